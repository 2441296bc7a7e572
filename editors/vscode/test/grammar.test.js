// The highlighting grammar on real flow text, through the TextMate engine VS
// Code uses: keys are not comments, texts keep their Chinese and their
// insertions, names after a declaration word are names.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

async function grammar() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p) => new oniguruma.OnigScanner(p),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(
        fs.readFileSync(path.join(__dirname, '..', 'syntaxes', 'dialect.tmLanguage.json'), 'utf8'),
        'dialect.tmLanguage.json',
      ),
  });
  return registry.loadGrammar('source.dialect');
}

/** Each token of each line as [text, innermost scope]. */
function tokens(g, text) {
  let state = vsctm.INITIAL;
  const out = [];
  for (const line of text.split('\n')) {
    const r = g.tokenizeLine(line, state);
    for (const t of r.tokens) {
      out.push([line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]]);
    }
    state = r.ruleStack;
  }
  return out;
}

function scopeOf(toks, text) {
  const t = toks.find(([s]) => s === text);
  assert.ok(t, `no token ${JSON.stringify(text)} in ${JSON.stringify(toks)}`);
  return t[1];
}

test('a flow of the hotline', async () => {
  const g = await grammar();
  const toks = tokens(
    g,
    [
      '# 主菜单',
      'flow hotline "10000 客服热线" on "10000" {',
      '  menu main (retries 3, timeout 5s) {',
      '    # -> hangup',
      '    * -> repeat',
      '    1 | "话费" -> transfer queue billing',
      '  }',
      '  say "您的余额是{balance}元"',
      '  main_menu:',
      '  if waited > 3m and caller in redlist { hangup }',
      '}',
    ].join('\n'),
  );
  assert.strictEqual(scopeOf(toks, '# 主菜单'), 'comment.line.number-sign.dialect');
  assert.strictEqual(scopeOf(toks, 'hotline'), 'entity.name.function.dialect');
  assert.strictEqual(scopeOf(toks, '#'), 'constant.character.key.dialect');
  assert.strictEqual(scopeOf(toks, '*'), 'constant.character.key.dialect');
  assert.strictEqual(scopeOf(toks, '10000 客服热线'), 'string.quoted.double.dialect');
  assert.strictEqual(scopeOf(toks, '3'), 'constant.numeric.dialect');
  assert.strictEqual(scopeOf(toks, '1'), 'constant.character.key.dialect');
  assert.strictEqual(scopeOf(toks, 'balance'), 'meta.interpolation.dialect');
  assert.strictEqual(scopeOf(toks, '5s'), 'constant.numeric.duration.dialect');
  assert.strictEqual(scopeOf(toks, 'main_menu'), 'entity.name.label.dialect');
  assert.strictEqual(scopeOf(toks, 'transfer'), 'keyword.control.dialect');
  assert.strictEqual(scopeOf(toks, 'caller'), 'variable.language.dialect');
});
