'use strict';
// user-service (:8001): users CRUD in memory; create, update and delete publish a `user-events`
// message (kafkajs). Flags: --port, --host, --kafka-brokers host:port[,...] (empty: no Kafka).
const { NestFactory } = require('@nestjs/core');
const {
  Module, Controller, Get, Post, Put, Patch, Delete, Param, Body, HttpCode, NotFoundException,
} = require('@nestjs/common');
const { decorateClass, parseFlags, stopOn } = require('../common/nest');
const { httpMetrics, MetricsController } = require('../common/metrics');
const kafka = require('../common/kafka');

const flags = parseFlags(process.argv.slice(2), { port: 8001, kafkaBrokers: '' });
const TOPIC = 'user-events';
const cluster = kafka.connect('user-service', flags.kafkaBrokers);
const events = kafka.producer(cluster);

const users = new Map([['1', { id: '1', name: 'seed' }]]);
let nextId = 2;

class UsersController {
  list() { return [...users.values()]; }
  get(id) { return found(id); }
  create(body) {
    const user = { id: String(nextId++), name: String((body && body.name) || 'user') };
    users.set(user.id, user);
    events.send(TOPIC, { type: 'created', id: user.id }, user.id);
    return user;
  }
  update(id, body) {
    const user = found(id);
    if (body && body.name) user.name = String(body.name);
    events.send(TOPIC, { type: 'updated', id }, id);
    return user;
  }
  patch(id, body) { return this.update(id, body); }
  remove(id) {
    found(id);
    users.delete(id);
    events.send(TOPIC, { type: 'deleted', id }, id);
  }
}
function found(id) {
  const user = users.get(id);
  if (!user) throw new NotFoundException();
  return user;
}
decorateClass(UsersController, [Controller('users')], {
  list: [[Get()]],
  get: [[Get(':id')], [Param('id')]],
  create: [[Post()], [Body()]],
  // One handler per HTTP method: Nest keeps one method per handler.
  update: [[Put(':id')], [Param('id'), Body()]],
  patch: [[Patch(':id')], [Param('id'), Body()]],
  remove: [[Delete(':id'), HttpCode(204)], [Param('id')]],
});

class HealthController { health() { return { status: 'ok' }; } }
decorateClass(HealthController, [Controller('health')], { health: [[Get()]] });

class AppModule {}
decorateClass(AppModule, [Module({ controllers: [UsersController, HealthController, MetricsController] })]);

async function main() {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.use(httpMetrics);
  await kafka.ensureTopics(cluster, [TOPIC]).catch((e) => console.error(`kafka topics: ${e.message}`));
  await events.start();
  stopOn(app, events.stop);
  await app.listen(flags.port, flags.host);
  console.log(`user-service on http://${flags.host}:${flags.port}`);
}
main().catch((e) => { console.error(`user-service: ${e.message}`); process.exit(1); });
