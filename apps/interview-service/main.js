'use strict';
// interview-service (:8002): schedules interviews; each POST /interviews publishes an
// `interview-events` message, and the service's own consumer group handles `interview-events`
// and `user-events` (kafkajs), timing each message. Flags: --port, --host,
// --kafka-brokers host:port[,...] (empty: no Kafka), --group.
const { NestFactory } = require('@nestjs/core');
const { Module, Controller, Get, Post, Body, HttpCode } = require('@nestjs/common');
const { decorateClass, parseFlags, stopOn } = require('../common/nest');
const { httpMetrics, MetricsController } = require('../common/metrics');
const kafka = require('../common/kafka');

const flags = parseFlags(process.argv.slice(2), { port: 8002, kafkaBrokers: '', group: 'interview-service' });
const TOPIC = 'interview-events';
const cluster = kafka.connect('interview-service', flags.kafkaBrokers);
const events = kafka.producer(cluster);

const interviews = [];
const processed = { 'interview-events': 0, 'user-events': 0 };

class InterviewsController {
  list() { return { scheduled: interviews.length, processed }; }
  schedule(body) {
    const interview = { id: String(interviews.length + 1), candidate: String((body && body.candidate) || 'anonymous') };
    interviews.push(interview);
    events.send(TOPIC, { type: 'scheduled', ...interview }, interview.id);
    return interview;
  }
}
decorateClass(InterviewsController, [Controller('interviews')], {
  list: [[Get()]],
  schedule: [[Post(), HttpCode(202)], [Body()]],
});

class HealthController { health() { return { status: 'ok' }; } }
decorateClass(HealthController, [Controller('health')], { health: [[Get()]] });

class AppModule {}
decorateClass(AppModule, [Module({ controllers: [InterviewsController, HealthController, MetricsController] })]);

// The handler does a little work (a few ms, like a database write), so that the latency
// quantiles on the dashboard are not all zero.
async function handle(topic) {
  await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
  processed[topic] += 1;
}

async function main() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.use(httpMetrics);
  let consumer = null;
  if (cluster) {
    // Not awaited: the HTTP side serves while the consumer group starts (or retries).
    events.start();
    kafka.consume(cluster, flags.group, [TOPIC, 'user-events'], handle)
      .then((c) => { consumer = c; })
      .catch((e) => console.error(`kafka: consumer gave up: ${e.message}`));
  }
  stopOn(app, async () => { if (consumer) await consumer.disconnect().catch(() => {}); await events.stop(); });
  await app.listen(flags.port, flags.host);
  console.log(`interview-service on http://${flags.host}:${flags.port}`);
}
main().catch((e) => { console.error(`interview-service: ${e.message}`); process.exit(1); });
