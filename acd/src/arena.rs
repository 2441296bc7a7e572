//! Typed indexes into the core's arenas: the agents, the queues and the call
//! slots live in vectors and refer to each other by position, and each position
//! has its own type ([`AgentIx`], [`QueueIx`], [`CallSlot`]) so that an agent's
//! index cannot be used to look up a queue. An [`Arena`] is a vector that only its
//! own index type can index.

use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A position in one [`Arena`].
pub(crate) trait Ix: Copy {
    /// The index of the `i`th element.
    fn from_usize(i: usize) -> Self;
    /// The position it stands for.
    fn index(self) -> usize;
}

macro_rules! ix {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) struct $name(u32);

        impl Ix for $name {
            fn from_usize(i: usize) -> $name {
                $name(i as u32)
            }

            fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

ix!(
    /// An agent's place in the core's agent arena. Agents are never taken out of
    /// it (a removed agent is only marked), so an `AgentIx` stays valid for the
    /// life of the core, and its order is the order agents were first defined in,
    /// which `first_idle` and the tie-breaks of the other strategies follow.
    AgentIx
);

ix!(
    /// A queue's place in the core's queue arena: the two built-in queues first,
    /// then the program's queues. Queues dropped from a new program stay (inactive,
    /// draining), so a `QueueIx` stays valid for the life of the core.
    QueueIx
);

ix!(
    /// A place in the core's call arena. Slots are reused once a call leaves the
    /// ACD, so a slot is only meaningful while the call-id map or a wait key
    /// holds it; timers name calls by `CallId` instead, and check that it is the
    /// same stay.
    CallSlot
);

/// A vector indexed by its own index type `I` only.
pub(crate) struct Arena<I, T> {
    items: Vec<T>,
    ix: PhantomData<fn() -> I>,
}

impl<I, T> Default for Arena<I, T> {
    fn default() -> Self {
        Arena {
            items: Vec::new(),
            ix: PhantomData,
        }
    }
}

impl<I: Ix, T> Arena<I, T> {
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Appends an element and returns its index.
    pub(crate) fn push(&mut self, item: T) -> I {
        self.items.push(item);
        I::from_usize(self.items.len() - 1)
    }

    /// Every index, in order. The iterator does not borrow the arena, so the loop
    /// body may change it (indexes added meanwhile are not visited).
    pub(crate) fn keys(&self) -> impl Iterator<Item = I> + use<I, T> {
        (0..self.items.len()).map(I::from_usize)
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.items.iter()
    }

    /// Every element with its index.
    pub(crate) fn iter_mut_indexed(&mut self) -> impl Iterator<Item = (I, &mut T)> {
        self.items
            .iter_mut()
            .enumerate()
            .map(|(i, t)| (I::from_usize(i), t))
    }
}

impl<'a, I: Ix, T> IntoIterator for &'a mut Arena<I, T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter_mut()
    }
}

impl<I: Ix, T> Index<I> for Arena<I, T> {
    type Output = T;

    fn index(&self, i: I) -> &T {
        &self.items[i.index()]
    }
}

impl<I: Ix, T> IndexMut<I> for Arena<I, T> {
    fn index_mut(&mut self, i: I) -> &mut T {
        &mut self.items[i.index()]
    }
}
