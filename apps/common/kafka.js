'use strict';
// The platform's app-side Kafka metrics, with kafkajs:
//   kafka_messages_produced_total{topic,status}        status: success | failure
//   kafka_message_processing_duration_seconds{topic}   a consumer's time in its handler
const { Kafka, logLevel } = require('kafkajs');
const { client, registry } = require('./metrics');

const produced = new client.Counter({
  name: 'kafka_messages_produced_total',
  help: 'Messages handed to Kafka, by topic and outcome (success: acknowledged by the broker).',
  labelNames: ['topic', 'status'],
  registers: [registry],
});
const processing = new client.Histogram({
  name: 'kafka_message_processing_duration_seconds',
  help: 'Time a consumer spent handling one message, by topic.',
  labelNames: ['topic'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

// brokers: "host:port,host:port"; empty: no Kafka (the HTTP side still works, produce counts
// nothing). Connection errors are logged once per kind, not per message.
function connect(clientId, brokers) {
  if (!brokers) return null;
  return new Kafka({
    clientId,
    brokers: brokers.split(','),
    logLevel: logLevel.ERROR,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { retries: 3, initialRetryTime: 200 },
  });
}

// A producer whose send() never throws: it counts success or failure per message. Sends are
// not awaited by HTTP handlers, so a slow broker does not slow the API down.
function producer(kafka) {
  if (!kafka) return { send: async () => {}, start: async () => {}, stop: async () => {} };
  const p = kafka.producer({ allowAutoTopicCreation: false });
  let ready = null;
  return {
    start() {
      ready = p.connect().catch((e) => { console.error(`kafka producer: ${e.message}`); ready = null; throw e; });
      return ready.catch(() => {});
    },
    async send(topic, value, key) {
      try {
        if (!ready) this.start();
        await ready;
        await p.send({ topic, messages: [{ key, value: JSON.stringify(value) }] });
        produced.inc({ topic, status: 'success' });
      } catch (e) {
        produced.inc({ topic, status: 'failure' });
      }
    },
    stop: () => p.disconnect().catch(() => {}),
  };
}

async function ensureTopics(kafka, topics) {
  if (!kafka) return;
  const admin = kafka.admin();
  try {
    await admin.connect();
    const have = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !have.has(t));
    if (missing.length) {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1 })) });
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// A consumer group on `topics`; handle(topic, value) is timed per message. Retries its start
// (every 2 s, at most `attempts` times): a topic another service has just created may not have
// its leaders known yet ("This server does not host this topic-partition"), and a broker that
// is still starting refuses connections.
async function consume(kafka, groupId, topics, handle, attempts = 60) {
  for (let attempt = 1; ; attempt++) {
    const c = kafka.consumer({ groupId, sessionTimeout: 10000, heartbeatInterval: 1000 });
    try {
      await ensureTopics(kafka, topics);
      await startConsumer(c, topics, handle);
      return c;
    } catch (e) {
      await c.disconnect().catch(() => {});
      if (attempt >= attempts) throw e;
      console.error(`kafka consumer ${groupId}: ${e.message}; retrying in 2s (${attempt}/${attempts})`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

async function startConsumer(c, topics, handle) {
  await c.connect();
  await c.subscribe({ topics, fromBeginning: false });
  await c.run({
    eachMessage: async ({ topic, message }) => {
      const end = processing.startTimer({ topic });
      try {
        await handle(topic, JSON.parse(message.value.toString()));
      } finally {
        end();
      }
    },
  });
}

module.exports = { connect, producer, ensureTopics, consume, produced, processing };
