//! List files into a campaign's targets: the dialer crate's importer reads and
//! types the rows; this sink runs the campaign's compiled filters on each and
//! stores the targets.
//!
//! A number already a target of the campaign (from an earlier import) keeps its
//! history — attempts, outcomes, next-attempt time — and takes the new row's
//! fields, as the last row of one file does. Targets are written in batches of
//! [`CHUNK`] rows, each durable before the next is read, so a file of a million
//! rows never sits in memory; a file the importer refuses whole (unknown
//! format, a mapped column missing) is refused before anything is written,
//! and a read that breaks off partway keeps the batches stored before it (the
//! error says so; importing the file again updates those targets in place).

use std::collections::HashMap;
use std::path::Path;

use dialect_compiler::ir::CampaignIr;
use dialect_compiler::value::Value;
use dialect_dialer::import::{
    ImportError, ImportReport, ImportSink, ImportedRow, Importer, Progress,
};
use dialect_dialer::target::{Target, TargetState};

use super::store;
use crate::deploy::Deployed;
use crate::store::{Batch, SharedStore, StoreError};

/// Rows written per durable batch.
pub const CHUNK: usize = 10_000;

/// Why a list could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ListImportError {
    /// The file is refused whole (the reason says why).
    #[error(transparent)]
    File(#[from] ImportError),
    /// The campaign has no list to import into.
    #[error("{0}")]
    Campaign(String),
    /// The store failed.
    #[error("cannot store the targets: {0}")]
    Store(#[from] StoreError),
}

/// A campaign's compiled filters, asked about one imported row at a time.
pub struct RowFilter<'a> {
    campaign: &'a CampaignIr,
    eval: dialect_compiler::exec::Evaluator,
    now_ms: i64,
}

impl<'a> RowFilter<'a> {
    /// The filters of `campaign` in `program`, as of `now_ms` (for `today()`).
    pub fn new(program: &dialect_compiler::Program, campaign: &'a CampaignIr, now_ms: i64) -> Self {
        let mut eval = program.evaluator();
        eval.set_now(now_ms);
        RowFilter {
            campaign,
            eval,
            now_ms,
        }
    }

    /// `Err` with the text of the first filter that leaves the row out.
    pub fn check(&mut self, values: &[Value]) -> Result<(), String> {
        let Some(pred) = self.campaign.filter else {
            return Ok(());
        };
        let t = Target::new(0, "", values.to_vec());
        if super::holds(&mut self.eval, pred, &t, self.now_ms) {
            return Ok(());
        }
        let failing = self
            .campaign
            .filter_parts
            .iter()
            .find(|(_, p)| !super::holds(&mut self.eval, *p, &t, self.now_ms))
            .map(|(text, _)| text.clone());
        Err(failing.unwrap_or_else(|| "the filters".into()))
    }
}

/// A sink that stores nothing: what an import would do, for `dialect campaign
/// import` without a server.
pub struct DryRun<'a, P: FnMut(Progress)> {
    filter: RowFilter<'a>,
    progress: P,
}

impl<'a, P: FnMut(Progress)> DryRun<'a, P> {
    /// A dry run with `filter`, telling `progress` how far it got.
    pub fn new(filter: RowFilter<'a>, progress: P) -> Self {
        DryRun { filter, progress }
    }
}

impl<P: FnMut(Progress)> ImportSink for DryRun<'_, P> {
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        self.filter.check(values)
    }

    fn target(&mut self, _row: ImportedRow) -> Result<(), String> {
        Ok(())
    }

    fn withdraw(&mut self, _phone: &str, _row: u64) -> Result<(), String> {
        Ok(())
    }

    fn progress(&mut self, progress: Progress) {
        (self.progress)(progress);
    }
}

struct StoreSink<'a> {
    store: &'a SharedStore,
    campaign: &'a CampaignIr,
    filter: RowFilter<'a>,
    batch: Batch,
    /// Targets written in the batch not yet committed, by phone.
    staged: HashMap<String, Target>,
    error: Option<StoreError>,
}

impl StoreSink<'_> {
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.store.commit(batch)?;
        self.staged.clear();
        Ok(())
    }

    /// The stored target of `phone`, staged or committed.
    fn existing(&self, phone: &str) -> Result<Option<Target>, StoreError> {
        if let Some(t) = self.staged.get(phone) {
            return Ok(Some(t.clone()));
        }
        store::target_by_phone(&**self.store, &self.campaign.name, phone)
    }

    fn put(&mut self, before: Option<&Target>, t: Target) {
        store::put_target(&mut self.batch, &self.campaign.name, before, &t);
        self.staged.insert(t.phone.clone(), t);
    }

    fn store_row(&mut self, row: ImportedRow) -> Result<(), StoreError> {
        let before = self.existing(&row.phone)?;
        let t = match &before {
            Some(b) => {
                let mut t = b.clone();
                t.fields = row.values;
                t.timezone = row.timezone;
                // A number taken back by an earlier row comes back.
                if matches!(t.state, TargetState::Removed | TargetState::Filtered) {
                    t.state = TargetState::Pending;
                    t.next_attempt_ms = None;
                }
                t
            }
            None => {
                let id = self.store.next_id(store::TARGET_COUNTER)?;
                let mut t = Target::new(id, row.phone.clone(), row.values);
                t.timezone = row.timezone;
                t.imported_ms = Some(crate::time::now_ms());
                t
            }
        };
        self.put(before.as_ref(), t);
        if self.staged.len() >= CHUNK {
            self.flush()?;
        }
        Ok(())
    }
}

impl ImportSink for StoreSink<'_> {
    fn filter(&mut self, values: &[Value]) -> Result<(), String> {
        self.filter.check(values)
    }

    fn target(&mut self, row: ImportedRow) -> Result<(), String> {
        self.store_row(row).map_err(|e| {
            let msg = e.to_string();
            self.error = Some(e);
            msg
        })
    }

    fn withdraw(&mut self, phone: &str, _row: u64) -> Result<(), String> {
        let before = self.existing(phone).map_err(|e| e.to_string())?;
        if let Some(b) = before
            && !b.state.is_final()
        {
            let mut t = b.clone();
            t.state = TargetState::Filtered;
            t.next_attempt_ms = None;
            self.put(Some(&b), t);
        }
        Ok(())
    }
}

/// The importer of campaign `c`'s list.
pub fn importer(
    c: &CampaignIr,
    rules: dialect_numbers::NumberRules,
) -> Result<Importer, ListImportError> {
    if c.fields.is_empty() {
        return Err(ListImportError::Campaign(format!(
            "the campaign `{}` declares no list",
            c.name
        )));
    }
    Ok(Importer::new(&c.fields, Some("phone"), rules)?)
}

/// Imports a file into campaign `c`: from `reader` (with the upload's content
/// type and the file's name, either may be missing), on the calling thread.
pub fn import<R: std::io::Read + std::io::Seek>(
    store: &SharedStore,
    deployed: &Deployed,
    c: &CampaignIr,
    rules: dialect_numbers::NumberRules,
    reader: R,
    content_type: Option<&str>,
    path: Option<&Path>,
) -> Result<ImportReport, ListImportError> {
    let imp = importer(c, rules)?;
    let mut sink = StoreSink {
        store,
        campaign: c,
        filter: RowFilter::new(&deployed.program, c, crate::time::now_ms()),
        batch: Batch::new(),
        staged: HashMap::new(),
        error: None,
    };
    let report = imp.import(reader, content_type, path, &mut sink);
    if let Some(e) = sink.error.take() {
        return Err(e.into());
    }
    let report = report?;
    sink.flush()?;
    Ok(report)
}
