//! The async side: futures woken by the commit that satisfies them or by the device read
//! they wait for — stored [`Waker`](std::task::Waker)s, no polling loop, no runtime
//! dependency (they run on tokio or any other executor).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use faster_hlog::Address;

use crate::commit::{Check, CommitState, Commits};
use crate::error::CommitError;
use crate::log::FasterLog;
use crate::page_reader::ReadSlot;

/// A future that completes when `check` finds its answer in the commit state.
pub(crate) struct CommitWait<'a, F> {
    commits: &'a Commits,
    id: Option<u64>,
    check: F,
}

impl<'a, F, T> CommitWait<'a, F>
where
    F: FnMut(&CommitState) -> Option<T> + Unpin,
{
    pub(crate) fn new(commits: &'a Commits, check: F) -> Self {
        Self {
            commits,
            id: None,
            check,
        }
    }
}

impl<F, T> Future for CommitWait<'_, F>
where
    F: FnMut(&CommitState) -> Option<T> + Unpin,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let this = self.get_mut();
        let check = &mut this.check;
        match this
            .commits
            .poll_check(&mut this.id, cx.waker(), |state| match check(state) {
                Some(answer) => Check::Done(answer),
                None => Check::Wait,
            }) {
            Some(answer) => Poll::Ready(answer),
            None => Poll::Pending,
        }
    }
}

impl<F> Drop for CommitWait<'_, F> {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.commits.forget_waker(id);
        }
    }
}

/// A future that completes when a device read does.
pub(crate) struct ReadWait(pub(crate) Arc<ReadSlot>);

impl Future for ReadWait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.poll_ready(cx)
    }
}

impl FasterLog {
    /// [`FasterLog::commit`] for async code: the commit runs on the log's background
    /// committer thread (joining a group commit in progress, if any), and the future is woken
    /// when it is durable. Dropping the future does not cancel the commit.
    ///
    /// # Errors
    /// As [`FasterLog::commit`].
    pub async fn commit_async(&self) -> Result<Address, CommitError> {
        let ticket = self.inner.commits.request();
        self.inner.background.wake();
        CommitWait::new(&self.inner.commits, move |state: &CommitState| {
            state.ticket_outcome(ticket)
        })
        .await
    }

    /// [`FasterLog::wait_for_commit`] for async code: woken by the commit that covers
    /// `until`. Does not itself start a commit.
    ///
    /// # Errors
    /// As [`FasterLog::wait_for_commit`].
    pub async fn wait_for_commit_async(&self, until: Address) -> Result<Address, CommitError> {
        let until = until.raw();
        CommitWait::new(&self.inner.commits, move |state: &CommitState| {
            state.until_outcome(until)
        })
        .await
    }
}
