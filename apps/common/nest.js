'use strict';
// Plain JavaScript, no TypeScript build: Nest's decorators are ordinary functions, so each
// controller applies them with Reflect.decorate (what tsc emits for `@Get()`), and the apps run
// straight from `npm ci` with no compile step and no typescript in node_modules.
require('reflect-metadata');

// decorateClass(Cls, [Controller('users')], { method: [[Get(':id')], [Param('id'), Body()]] }):
// method decorators, then the decorators of each parameter by position (tsc's __param).
function decorateClass(Cls, classDecorators, methods = {}) {
  for (const [name, [decorators, params = []]] of Object.entries(methods)) {
    params.forEach((d, i) => d && d(Cls.prototype, name, i));
    const desc = Object.getOwnPropertyDescriptor(Cls.prototype, name);
    Object.defineProperty(Cls.prototype, name, Reflect.decorate(decorators, Cls.prototype, name, desc));
  }
  return Reflect.decorate(classDecorators, Cls);
}

// One flag parser for the three apps: --port N (or PORT), --host H (or HOST), and the app's own
// `--name value` flags with defaults. A bad flag: one line, exit 64.
function parseFlags(argv, defaults) {
  const out = { host: process.env.HOST || '127.0.0.1', ...defaults };
  if (process.env.PORT) out.port = Number(process.env.PORT);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const key = m && m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!m || !(key in out)) usage(`unknown flag ${argv[i]}`);
    const value = m[2] !== undefined ? m[2] : argv[++i];
    if (value === undefined) usage(`flag --${m[1]} wants a value`);
    out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
    if (typeof defaults[key] === 'number' && !Number.isFinite(out[key])) usage(`--${m[1]}: not a number: ${value}`);
  }
  return out;
}

function usage(msg) {
  process.stderr.write(`${process.argv[1].split('/').slice(-2).join('/')}: ${msg}\n`);
  process.exit(64);
}

// SIGTERM (what the run scripts and Kubernetes send): close the HTTP server and the Kafka
// clients, then exit.
function stopOn(app, extra = async () => {}) {
  let stopping = false;
  for (const sig of ['SIGTERM', 'SIGINT']) {
    process.on(sig, async () => {
      if (stopping) return;
      stopping = true;
      const force = setTimeout(() => process.exit(0), 5000);
      force.unref();
      try { await extra(); await app.close(); } catch (e) { console.error(`stop: ${e.message}`); }
      process.exit(0);
    });
  }
}

module.exports = { decorateClass, parseFlags, usage, stopOn };
