#!/usr/bin/env node
'use strict';
/**
 * Replays the Dockerfile without a Docker engine (CI machines have none; issue 30): each stage
 * gets an empty folder standing for its filesystem root, holding only what its COPY steps copy
 * (from the build context, minus .dockerignore, or from an earlier stage's folder); its RUN steps
 * run there with `sh -c` and the stage's ENV; then the last stage's CMD starts, and the replay
 * passes when it answers GET /healthz with 200 and the HEALTHCHECK command exits 0, and stops on
 * SIGTERM. A step that fails in the image fails here (a build that needs files not copied yet,
 * a production dependency missing from the runtime stage, a CMD that does not start).
 *
 * What differs from a real build, by necessity: the base image is this machine (its Node: pass
 * --node to use another binary, e.g. the Node 22 the image's FROM names), absolute paths of the
 * stage (its WORKDIRs, e.g. /app) are rewritten into the stage's folder in RUN, ENV and CMD, USER
 * is not switched, `chown` to a user this machine lacks (the image's `node`) is skipped, and npm
 * gets a private cache (seeded from this machine's) so `npm cache clean` in a stage stays there.
 *
 * Usage: node scripts/replay-dockerfile.js [--dockerfile Dockerfile] [--context .] [--node <path to node>] [--keep]
 * Environment for the started server: JWT_SECRET and CORS_ORIGINS are generated/"*" unless given.
 * Exit code 0 when the image's server started and answered; 1 otherwise (with the failing step).
 */
const { spawn, spawnSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const root = path.resolve(__dirname, '..');
const dockerfile = path.resolve(opt('--dockerfile', path.join(root, 'Dockerfile')));
const context = path.resolve(opt('--context', root));
const nodeBin = opt('--node', process.execPath);
const keep = args.includes('--keep');

const log = (...m) => console.log('[replay]', ...m);
const fail = (msg) => {
  console.error(`[replay] FAILED: ${msg}`);
  process.exitCode = 1;
  throw new ReplayError(msg);
};
class ReplayError extends Error {}

/** The Dockerfile's instructions: { op, arg, line } with continuations joined and comments dropped. */
function parseDockerfile(text) {
  const out = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!buf && (/^\s*#/.test(line) || !line.trim())) return;
    if (buf && /^\s*#/.test(line)) return; // comment lines inside a continued instruction
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += line.slice(0, -1) + ' ';
      return;
    }
    buf += line;
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(buf);
    if (m) out.push({ op: m[1].toUpperCase(), arg: m[2].trim(), line: start });
    buf = '';
  });
  return out;
}

/** .dockerignore patterns as tests on a context-relative path (Go filepath.Match rules, `**`, `!`). */
function dockerignore(dir) {
  let lines = [];
  try {
    lines = fs.readFileSync(path.join(dir, '.dockerignore'), 'utf8').split('\n');
  } catch {
    /* none */
  }
  const rules = lines
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pat = path.posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      const re = pat
        .split('/')
        .map((seg) =>
          seg === '**'
            ? '.*'
            : seg
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/');
      // A pattern naming a directory excludes everything under it.
      return { negate, re: new RegExp(`^${re}(/.*)?$`) };
    });
  return (rel) => {
    let ignored = false;
    for (const r of rules) if (r.re.test(rel)) ignored = !r.negate;
    return ignored;
  };
}

/** Copies `src` (file or folder) to `dest`, skipping context paths `ignored` says to (rel: path from the context). */
function copyInto(src, dest, ignored, rel) {
  const stat = fs.lstatSync(src);
  if (rel && ignored(rel)) return;
  if (stat.isDirectory()) {
    fs.mkdirSync(dest, { recursive: true });
    for (const name of fs.readdirSync(src)) copyInto(path.join(src, name), path.join(dest, name), ignored, rel ? `${rel}/${name}` : name);
  } else if (stat.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dest);
  } else {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(src, dest);
  }
}

/** Splits an instruction's words (shell form) or reads its JSON (exec form). */
function words(arg) {
  if (arg.startsWith('[')) return JSON.parse(arg);
  return arg.match(/"[^"]*"|'[^']*'|\S+/g).map((w) => w.replace(/^["']|["']$/g, ''));
}

/** ENV in both forms: `ENV A=1 B="x y"` and `ENV A 1`. */
function parseEnv(arg) {
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg)) {
    const [k, ...v] = arg.split(/\s+/);
    return { [k]: v.join(' ') };
  }
  const out = {};
  for (const w of arg.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|'[^']*'|\S*)/g) ?? []) {
    const i = w.indexOf('=');
    out[w.slice(0, i)] = w.slice(i + 1).replace(/^["']|["']$/g, '');
  }
  return out;
}

/** A free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function main() {
  const steps = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
  const ignored = dockerignore(context);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-replay-'));
  const nodeDir = path.dirname(fs.realpathSync(nodeBin));
  // The image has a `node` user; this machine may not: chown to it is skipped (shim below).
  const hasNodeUser = spawnSync('id', ['node'], { stdio: 'ignore' }).status === 0;
  const shims = path.join(work, '.shims');
  fs.mkdirSync(shims);
  if (!hasNodeUser) fs.writeFileSync(path.join(shims, 'chown'), '#!/bin/sh\necho "[replay] chown $* skipped (no such user here)" >&2\n', { mode: 0o755 });
  // A build has its own npm cache, and the image's `npm cache clean --force` must not empty this
  // machine's: RUN steps get a private cache, seeded with hard links to this machine's (npm never
  // rewrites a cached file in place, so nothing reaches the original), else empty (downloads).
  const npmCache = path.join(work, '.npm-cache');
  const machineCache = spawnSync('npm', ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
  if (!machineCache || spawnSync('cp', ['-al', machineCache, npmCache], { stdio: 'ignore' }).status !== 0) {
    fs.rmSync(npmCache, { recursive: true, force: true });
    fs.mkdirSync(npmCache);
  }
  const nodeVersion = spawnSync(nodeBin, ['--version'], { encoding: 'utf8' }).stdout.trim();
  log(`Dockerfile ${path.relative(process.cwd(), dockerfile) || dockerfile}, context ${context}, node ${nodeVersion} (${nodeBin}), work folder ${work}`);

  const stages = [];
  try {
    await replay(steps, { stages, work, ignored, nodeVersion, shims, nodeDir, npmCache });
  } finally {
    if (!keep) fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  log('passed');
}

/** Replays `steps` (see the file's comment), then starts and checks the last stage's CMD. */
async function replay(steps, { stages, work, ignored, nodeVersion, shims, nodeDir, npmCache }) {
  let stage = null;
  /** A container path of the current stage as a path in its folder. */
  const host = (p) => path.join(stage.root, path.posix.resolve(stage.workdir, p));
  /** Text with the stage's container paths (its WORKDIRs) made paths of its folder. */
  const rewrite = (text) => {
    let t = text;
    for (const w of [...stage.workdirs].sort((a, b) => b.length - a.length)) {
      t = t.replace(new RegExp(`(^|[\\s=:'"(])${w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?=/|[\\s'";)]|$)`, 'g'), `$1${path.join(stage.root, w)}`);
    }
    return t;
  };
  const stageEnv = () => {
    const env = { ...process.env, PATH: `${shims}:${nodeDir}:${process.env.PATH}`, npm_config_cache: npmCache };
    for (const [k, v] of Object.entries(stage.env)) env[k] = rewrite(v);
    return env;
  };
  const t0 = Date.now();
  for (const step of steps) {
    const where = `Dockerfile:${step.line} ${step.op} ${step.arg}`;
    if (step.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(step.arg);
      const name = m[2] ?? String(stages.length);
      stage = {
        name,
        image: m[1],
        root: path.join(work, `stage-${stages.length}-${name}`),
        workdir: '/',
        workdirs: new Set(),
        env: {},
        cmd: null,
        healthcheck: null,
      };
      fs.mkdirSync(stage.root);
      stages.push(stage);
      const want = /^node:(\d+)/.exec(m[1]);
      if (want && !nodeVersion.startsWith(`v${want[1]}.`)) log(`note: the image is ${m[1]}, this replay runs node ${nodeVersion}`);
      log(`stage ${name} (FROM ${m[1]}) in ${stage.root}`);
      continue;
    }
    if (!stage) fail(`${where}: an instruction before FROM`);
    switch (step.op) {
      case 'WORKDIR':
        stage.workdir = path.posix.resolve(stage.workdir, step.arg);
        stage.workdirs.add(stage.workdir);
        fs.mkdirSync(host('.'), { recursive: true });
        break;
      case 'ENV':
        Object.assign(stage.env, parseEnv(step.arg));
        break;
      case 'ARG':
      case 'EXPOSE':
      case 'LABEL':
      case 'USER':
      case 'STOPSIGNAL':
      case 'VOLUME':
        break;
      case 'COPY':
      case 'ADD': {
        const w = words(step.arg);
        const flags = w.filter((x) => x.startsWith('--'));
        const [dest, ...srcs] = w.filter((x) => !x.startsWith('--')).reverse();
        srcs.reverse();
        const from = flags.find((f) => f.startsWith('--from='))?.slice(7);
        const fromStage = from ? stages.find((s) => s.name === from) : null;
        if (from && !fromStage) fail(`${where}: no earlier stage named ${from}`);
        const target = host(dest);
        for (const src of srcs) {
          const source = fromStage ? path.join(fromStage.root, path.posix.resolve('/', src)) : path.join(context, src);
          if (!fs.existsSync(source)) fail(`${where}: ${src} does not exist ${fromStage ? `in stage ${from}` : 'in the build context'}`);
          const rel = fromStage ? '' : path.posix.normalize(src).replace(/^\.\/?|\/$/g, '');
          if (!fromStage && rel && ignored(rel)) fail(`${where}: ${src} is excluded by .dockerignore`);
          const isDir = fs.statSync(source).isDirectory();
          // `COPY dir dest` copies the folder's contents; `COPY a b ./` puts files into the folder.
          const out = isDir || dest.endsWith('/') || srcs.length > 1 ? (isDir ? target : path.join(target, path.basename(src))) : target;
          copyInto(source, out, fromStage ? () => false : ignored, rel);
        }
        log(`${step.op} ${step.arg}`);
        break;
      }
      case 'RUN': {
        const cmd = rewrite(step.arg.startsWith('[') ? JSON.parse(step.arg).join(' ') : step.arg);
        log(`RUN ${step.arg}`);
        const t = Date.now();
        const r = spawnSync('sh', ['-c', cmd], { cwd: host('.'), env: stageEnv(), stdio: 'inherit' });
        if (r.status !== 0) fail(`${where}: exit code ${r.status ?? r.signal}`);
        log(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
        break;
      }
      case 'CMD':
      case 'ENTRYPOINT':
        stage.cmd = words(step.arg);
        break;
      case 'HEALTHCHECK': {
        const m = /CMD\s+(.*)$/.exec(step.arg);
        stage.healthcheck = m ? words(m[1]) : null;
        break;
      }
      default:
        fail(`${where}: this replay does not know ${step.op}`);
    }
  }
  log(`build replayed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // Start the last stage's CMD as the container would run it.
  if (!stage.cmd) fail('the last stage has no CMD');
  const port = await freePort();
  const env = {
    ...stageEnv(),
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: process.env.JWT_SECRET ?? randomBytes(48).toString('base64'),
    CORS_ORIGINS: process.env.CORS_ORIGINS ?? '*',
  };
  // The image's own default: the embedded database under DATA_DIR, no Redis.
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  const [file, ...cmdArgs] = stage.cmd.map(rewrite);
  log(`CMD ${stage.cmd.join(' ')} (PORT=${port})`);
  const child = spawn(file, cmdArgs, { cwd: host('.'), env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => {
    output += c;
  });
  child.stderr.on('data', (c) => {
    output += c;
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let exitedEarly = null;
  void exited.then((e) => {
    exitedEarly = e;
  });
  try {
    const deadline = Date.now() + 120_000;
    let healthy = false;
    while (!healthy && Date.now() < deadline && !exitedEarly) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!healthy) await new Promise((r) => setTimeout(r, 500));
    }
    if (!healthy) fail(`the server did not answer /healthz${exitedEarly ? ` (it exited: ${JSON.stringify(exitedEarly)})` : ' within 120 s'}:\n${output}`);
    log(`GET /healthz: 200 (${await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.text())})`);
    if (stage.healthcheck) {
      const [hf, ...ha] = stage.healthcheck.map(rewrite);
      const r = spawnSync(hf, ha, { cwd: host('.'), env, encoding: 'utf8', timeout: 10_000 });
      if (r.status !== 0) fail(`HEALTHCHECK ${stage.healthcheck.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
      log('HEALTHCHECK: exit 0');
    }
  } finally {
    const running = !exitedEarly;
    if (running) child.kill('SIGTERM');
    let timer;
    const stopped = await Promise.race([
      exited,
      new Promise((r) => {
        timer = setTimeout(() => r(null), 30_000);
      }),
    ]);
    clearTimeout(timer);
    if (!stopped) {
      child.kill('SIGKILL');
      if (!process.exitCode) fail('the server did not stop within 30 s of SIGTERM');
    } else if (running) log(`stopped on SIGTERM: ${JSON.stringify(stopped)}`);
  }
}

main().catch((err) => {
  if (!(err instanceof ReplayError)) console.error(err);
  process.exitCode = 1;
});
