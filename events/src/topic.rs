//! Creating the event topic with the Kafka admin API (`CreateTopics`), so that a node, `make run`
//! and the tests need no broker-specific command line: the test broker does not create topics on
//! first use.

use std::time::Duration;

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::RDKafkaErrorCode,
};

use crate::EventLogError;

/// Creates `topic` with `partitions` partitions and `replication` replicas; a topic that already
/// exists counts as success (its partition count is left as it is). Blocks up to `timeout`: for
/// start-up and tests, not the tick.
pub fn create_topic(
    bootstrap_servers: &str,
    topic: &str,
    partitions: i32,
    replication: i32,
    timeout: Duration,
) -> Result<(), EventLogError> {
    let fail = |reason: String| EventLogError::CreateTopic {
        topic: topic.to_owned(),
        reason,
    };
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap_servers)
        .create()
        .map_err(|e| fail(e.to_string()))?;
    let new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
    let options = AdminOptions::new()
        .request_timeout(Some(timeout))
        .operation_timeout(Some(timeout));
    // The admin client resolves its futures from its own polling thread; blocking on one here needs
    // no async runtime.
    let results =
        futures_executor::block_on(admin.create_topics([&new_topic], &options)).map_err(|e| fail(e.to_string()))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(fail(code.to_string())),
        }
    }
    Ok(())
}
