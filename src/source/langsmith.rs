//! The LangSmith API as a source: the client, as it is.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::RunSource;
use crate::langsmith::{
    Client, ClientError, FeedbackPageStream, FeedbackQuery, ItemStream, Lane, PageStream,
    RunsQuery, StatsSnapshot, Thread, ThreadTrace, ThreadTracesQuery, ThreadsQuery, Trace,
    TracesQuery,
};

impl RunSource for Client {
    fn origin(&self) -> String {
        self.config().endpoint.clone()
    }

    fn resolve_project<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<String, ClientError>> {
        Client::resolve_project(self, name).boxed()
    }

    fn query(&self, query: RunsQuery, split: bool) -> PageStream {
        Client::query(self, query, split)
    }

    fn fetch_by_ids(&self, base: &RunsQuery, ids: Vec<String>) -> PageStream {
        Client::fetch_by_ids(self, base, ids)
    }

    fn feedback(&self, query: FeedbackQuery) -> FeedbackPageStream {
        Client::list_feedback(self, query)
    }

    fn batch_size<'a>(&'a self, base: &'a RunsQuery) -> BoxFuture<'a, Result<usize, ClientError>> {
        async move { Ok(self.page_size(self.api_for(base).await?)) }.boxed()
    }

    fn traces(&self, query: TracesQuery) -> ItemStream<Trace> {
        self.query_traces(query)
    }

    fn threads(&self, query: ThreadsQuery) -> ItemStream<Thread> {
        self.query_threads(query)
    }

    fn thread_traces(&self, query: ThreadTracesQuery) -> ItemStream<ThreadTrace> {
        Client::thread_traces(self, query)
    }

    fn stats(&self) -> StatsSnapshot {
        Client::stats(self)
    }

    fn lane_limits(&self) -> (Vec<(Lane, Option<u32>)>, Duration) {
        Client::lane_limits(self)
    }
}
