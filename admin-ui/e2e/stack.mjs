// The system under test: the real nexmdm server binary on a free port, with
// a fresh PostgreSQL database and its own Redis key prefix, plus the
// simulated devices (bin/loadgen, bin/nexmdm-agent). Nothing is built here:
// `make e2e` / `make test` build bin/ (with the dashboard embedded) first.
import { execFile, spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { apkFixture, sha256Hex } from "./apk.mjs";

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, "../..");
export const BIN = process.env.NEXMDM_BIN_DIR ?? path.join(ROOT, "bin");

export const ADMIN_USER = "e2e-admin";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e tests with \`make e2e\` or \`make test\`, which start PostgreSQL and Redis`);
  return v;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** psql on PATH, or the newest server's. */
function psqlPath() {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && fs.existsSync(path.join(dir, "psql"))) return path.join(dir, "psql");
  }
  const base = "/usr/lib/postgresql";
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = path.join(base, v, "bin", "psql");
    if (fs.existsSync(p)) return p;
  }
  throw new Error("psql not found: install postgresql-client (scripts/services.sh installs PostgreSQL)");
}

async function psql(url, sql) {
  await run(psqlPath(), [url, "-v", "ON_ERROR_STOP=1", "-qAtc", sql], { timeout: 60_000 });
}

function withDatabase(raw, name) {
  const u = new URL(raw);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Waits until check() is truthy, or throws what() after timeout ms. */
export async function until(check, { timeout = 15_000, every = 100, what = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Starts the stack. Returns { baseURL, adminKey, password, tmp, logFile,
 * api(), loadgen(), heartbeat(), startAgent(), uploadAgentAPK(), stop() }.
 */
export async function startStack({ log = () => {} } = {}) {
  const databaseURL = need("DATABASE_URL");
  const redisURL = need("REDIS_URL");
  for (const b of ["nexmdm", "loadgen", "nexmdm-agent"]) {
    if (!fs.existsSync(path.join(BIN, b))) throw new Error(`${path.join(BIN, b)} is missing: run \`make e2e\` (it builds bin/ first)`);
  }
  const id = crypto.randomBytes(5).toString("hex");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "nexmdm-e2e-"));
  const dbName = `nexmdm_e2e_${id}`;
  const adminKey = `e2e-admin-key-${crypto.randomBytes(12).toString("hex")}`;
  const password = `e2e-${crypto.randomBytes(9).toString("base64url")}`;
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const logFile = path.join(tmp, "server.log");
  const children = new Set();
  let dbCreated = false;

  const env = {
    ...process.env,
    DATABASE_URL: withDatabase(databaseURL, dbName),
    REDIS_URL: redisURL,
    NEXMDM_REDIS_PREFIX: `nexmdm_e2e_${id}:`,
    NEXMDM_ADDR: `127.0.0.1:${port}`,
    NEXMDM_ADMIN_KEY: adminKey,
    NEXMDM_BCRYPT_COST: "4",
    NEXMDM_DB_MAX_CONNS: "8",
    NEXMDM_HEARTBEAT_INTERVAL: "2s", // the agent pulls commands with its heartbeats
    NEXMDM_SWEEP_INTERVAL: "1s",
    NEXMDM_PURGE_EVERY: "1s",
    NEXMDM_BLOB_URL: `file://${path.join(tmp, "blobs")}`,
    NEXMDM_LOG_LEVEL: "warn",
  };

  const stack = {
    baseURL, adminKey, password, tmp, logFile, env,

    /** An admin API call with the admin key. */
    async api(method, p, body) {
      const res = await fetch(baseURL + p, {
        method,
        headers: { "X-Admin-Key": adminKey, ...(body !== undefined && { "Content-Type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, body: json, text };
    },

    /**
     * Registers n simulated devices with bin/loadgen (serials prefix-000000…),
     * each sending one heartbeat; returns their credentials.
     */
    async loadgen(prefix, n = 1, { history = 0 } = {}) {
      const tokens = path.join(tmp, `${prefix}.tokens`);
      // history: heartbeats 5 minutes apart up to now, for the charts.
      const beats = history > 0 ? ["--count", String(history), "--ts-step", "5m", "--clock-start", `${history * 5}m`] : ["--count", "1"];
      await run(path.join(BIN, "loadgen"), [
        "run", "--url", baseURL, "--admin-key", adminKey, "--tokens", tokens, "--prefix", prefix,
        "--devices", String(n), ...beats, "--duration", "0", "--ramp", "0", "--interval", "0",
        "--conns", "4", "--enroll-concurrency", "4", "--quiet", "--json",
      ], { timeout: 60_000 });
      const creds = fs.readFileSync(tokens, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      return creds.map((c) => ({ ...c, alias: `sim ${c.serial}` }));
    },

    /**
     * A heartbeat as a device sends it (POST /v1/heartbeat). ts defaults to a
     * fresh 10 s bucket (the server stores one heartbeat per device per bucket).
     */
    async heartbeat(token, fields, ts = new Date(Date.now() + 10_000 * (++bucketSkew))) {
      const res = await fetch(`${baseURL}/v1/heartbeat`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ ts: ts.toISOString(), net_type: "wifi", ...fields }),
      });
      const body = await res.json();
      if (res.status !== 200) throw new Error(`heartbeat: ${res.status} ${JSON.stringify(body)}`);
      return body;
    },

    /** Starts the real device agent (Linux), enrolled with the admin key. Resolves once it is enrolled. */
    async startAgent(serial, alias = `agent ${serial}`) {
      const stateDir = path.join(tmp, `agent-${serial}`);
      const lines = [];
      const child = spawn(path.join(BIN, "nexmdm-agent"), [], {
        env: {
          ...process.env,
          NEXMDM_AGENT_SERVER: baseURL,
          NEXMDM_AGENT_ENROLL_KEY: adminKey,
          NEXMDM_AGENT_SERIAL: serial,
          NEXMDM_AGENT_ALIAS: alias,
          NEXMDM_AGENT_STATE_DIR: stateDir,
          NEXMDM_AGENT_PLATFORM: "linux",
          NEXMDM_AGENT_HEARTBEAT_INTERVAL: "2s",
          NEXMDM_AGENT_NET_POLL: "500ms",
          NEXMDM_AGENT_LOG_LEVEL: "info",
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.add(child);
      child.on("exit", () => children.delete(child));
      const logPath = path.join(tmp, `agent-${serial}.log`);
      const logOut = fs.createWriteStream(logPath);
      for (const s of [child.stdout, child.stderr]) {
        s.on("data", (b) => {
          logOut.write(b);
          for (const l of b.toString().split("\n")) if (l.trim()) lines.push(l);
        });
      }
      const enrolled = await until(() => {
        if (child.exitCode !== null) throw new Error(`the agent exited with ${child.exitCode}:\n${lines.join("\n")}`);
        for (const l of lines) {
          try {
            const m = JSON.parse(l);
            if (m.msg === "enroll.ok" && m.device_id) return m;
          } catch {
            // not JSON
          }
        }
        return undefined;
      }, { timeout: 20_000, what: `the agent ${serial} to enroll` });
      return {
        deviceId: enrolled.device_id, serial, alias, logPath, lines,
        stop: () => stopChild(child),
      };
    },

    /** Registers and uploads an agent APK build (the enrollment scripts install it). */
    async uploadAgentAPK({ versionCode = 100, pkg = "com.nexmdm.agent" } = {}) {
      const file = apkFixture(pkg);
      const reg = await stack.api("POST", "/admin/apk/register", {
        package: pkg, version_code: versionCode, version_name: `1.0.${versionCode}`, sha256: sha256Hex(file),
        signer_fingerprint: Array(32).fill("AB").join(":"), channel: "stable", git_sha: "e2e0e2e0",
      });
      if (reg.status !== 201) throw new Error(`register APK: ${reg.status} ${reg.text}`);
      const form = new FormData();
      form.append("build_id", reg.body.id);
      form.append("file", new Blob([file], { type: "application/vnd.android.package-archive" }), "agent-e2e.apk");
      const up = await fetch(`${baseURL}/admin/apk/upload`, { method: "POST", headers: { "X-Admin-Key": adminKey }, body: form });
      if (up.status !== 200 && up.status !== 201) throw new Error(`upload APK: ${up.status} ${await up.text()}`);
      return reg.body.id;
    },

    /** The server log's last lines, for a failure's report. */
    logTail(n = 60) {
      try {
        return fs.readFileSync(logFile, "utf8").trim().split("\n").slice(-n).join("\n");
      } catch {
        return "";
      }
    },

    async stop() {
      await Promise.all([...children].map(stopChild));
      if (dbCreated) {
        await psql(databaseURL, `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e) => log(`drop ${dbName}: ${e.message}`));
      }
      await dropRedisKeys(redisURL, env.NEXMDM_REDIS_PREFIX).catch(() => {});
      if (!process.env.E2E_KEEP) fs.rmSync(tmp, { recursive: true, force: true });
    },

    killAll() { // synchronous, for process exit
      for (const c of children) c.kill("SIGKILL");
    },
  };
  let bucketSkew = 0;

  try {
    const t0 = Date.now();
    await psql(databaseURL, `CREATE DATABASE ${dbName}`);
    dbCreated = true;
    await run(path.join(BIN, "nexmdm"), ["migrate"], { env, timeout: 60_000 });
    const add = spawn(path.join(BIN, "nexmdm"), ["user", "add", "--username", ADMIN_USER, "--role", "admin", "--password-stdin"], {
      env, stdio: ["pipe", "pipe", "pipe"],
    });
    let addOut = "";
    add.stdout.on("data", (b) => (addOut += b));
    add.stderr.on("data", (b) => (addOut += b));
    add.stdin.end(`${password}\n`);
    const code = await new Promise((r) => add.on("exit", r));
    if (code !== 0) throw new Error(`nexmdm user add: exit ${code}\n${addOut}`);

    const out = fs.openSync(logFile, "w");
    const server = spawn(path.join(BIN, "nexmdm"), ["serve"], { env, stdio: ["ignore", out, out] });
    fs.closeSync(out);
    children.add(server);
    server.on("exit", () => children.delete(server));
    await until(async () => {
      if (server.exitCode !== null) throw new Error(`nexmdm serve exited with ${server.exitCode}:\n${stack.logTail()}`);
      try {
        return (await fetch(`${baseURL}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }, { timeout: 30_000, what: "the server's /readyz" });
    log(`server ready at ${baseURL} in ${Date.now() - t0} ms (database ${dbName}, log ${logFile})`);
    return stack;
  } catch (e) {
    await stack.stop();
    throw e;
  }
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

async function dropRedisKeys(redisURL, prefix) {
  const { stdout } = await run("redis-cli", ["-u", redisURL, "--scan", "--pattern", `${prefix}*`], { timeout: 10_000 });
  const keys = stdout.split("\n").filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) {
    await run("redis-cli", ["-u", redisURL, "DEL", ...keys.slice(i, i + 500)], { timeout: 10_000 });
  }
}
