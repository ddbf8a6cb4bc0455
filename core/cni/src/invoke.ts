/**
 * The runtime side of the CNI protocol (SPEC.md "Section 3: Execution protocol" and "Section 4:
 * Plugin delegation / chaining"): for each plugin of a network configuration list the binary
 * named by `type` is found on CNI_PATH and run with the network config on stdin and
 * CNI_COMMAND / CNI_CONTAINERID / CNI_NETNS / CNI_IFNAME / CNI_ARGS / CNI_PATH in the environment.
 *
 *  - ADD runs the plugins in order, each with the previous one's result as `prevResult`; the last
 *    result is cached (with the exact configuration used) so that CHECK and DEL get it back;
 *  - CHECK (0.4.0+) runs them in order with the cached result;
 *  - DEL runs them in reverse order with the cached result (0.4.0+), goes on past failures so that
 *    as much as possible is released, and forgets the cache only when every plugin succeeded.
 *
 * A plugin's error object `{code, msg, details}` becomes an RktError naming the network, the plugin
 * and the command, with the CNI code kept in `details.cniCode` (11, "try again later", is marked
 * retryable).
 */
import { accessSync, constants as fsc, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { RktError, ErrorCodes, invalidArgument, notFound } from '@rkt/api';
import { compareVersions, configListJson, networkConfigFrom, pluginTypeError, type NetworkConfigList, type PluginConf } from './conf.js';
import { normalizeResult, type CniResult } from './result.js';

export type CniCommand = 'ADD' | 'CHECK' | 'DEL' | 'VERSION';

export interface RuntimeConf {
  containerId: string;
  /** Path of the network namespace (may be absent on DEL after a reboot). */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs (`K1=V1;K2=V2`). */
  args?: Array<[string, string]>;
}

export interface ExecRequest {
  binary: string;
  env: Record<string, string>;
  stdin: string;
  timeoutMs: number;
}
export interface ExecResponse {
  exitCode: number;
  stdout: string;
  stderr: string;
}
/** How a plugin process is run; replaceable in tests. */
export type PluginExec = (r: ExecRequest) => Promise<ExecResponse>;

export interface InvokerOptions {
  /** Directories searched for plugin binaries, in order (CNI_PATH). */
  cniPath: readonly string[];
  /** Where ADD results are cached for CHECK and DEL. */
  cacheDir: string;
  timeoutMs?: number;
  exec?: PluginExec;
  debug?(m: string): void;
}

export interface CachedAttachment {
  kind: 'cniCacheV1';
  containerId: string;
  ifName: string;
  networkName: string;
  cniArgs: Array<[string, string]>;
  /** The configuration list ADD was run with. */
  config: Record<string, unknown>;
  /** The raw result of the last plugin (in the list's cniVersion). */
  result: unknown;
}

/**
 * Runs a plugin with node:child_process rather than the project's process library (execa): a CNI
 * plugin is the simplest kind of child — config on stdin, a clean environment, stdout and stderr
 * collected, a timeout — and execa's import alone costs ~60 ms, on the critical path of every
 * `rkt run` with a contained network (docs/dependencies.md).
 */
const spawnExec: PluginExec = (r) =>
  new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let settled = false;
    const done = (v: ExecResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const child = spawn(r.binary, [], { env: r.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, r.timeoutMs);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => done({ exitCode: -1, stdout: '', stderr: e.message }));
    // A plugin may exit without reading its config: EPIPE on stdin is not an error of ours.
    child.stdin.on('error', () => undefined);
    child.stdin.end(r.stdin);
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      if (timedOut) done({ exitCode: -1, stdout, stderr: `timed out after ${r.timeoutMs} ms` });
      else if (code === null) done({ exitCode: -1, stdout, stderr: `killed by ${signal}` });
      else done({ exitCode: code, stdout, stderr: Buffer.concat(err).toString('utf8') });
    });
  });

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `<dir>/<type>` on the path, or undefined. */
export function findPluginBinary(type: string, cniPath: readonly string[]): string | undefined {
  if (pluginTypeError(type)) return undefined;
  for (const d of cniPath) {
    if (!d) continue;
    const p = join(d, type);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

export class CniInvoker {
  private readonly exec: PluginExec;
  private readonly timeoutMs: number;

  constructor(private readonly o: InvokerOptions) {
    this.exec = o.exec ?? spawnExec;
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  cacheFile(networkName: string, rt: RuntimeConf): string {
    return join(this.o.cacheDir, `${networkName}-${rt.containerId}-${rt.ifName}.json`);
  }

  /** What ADD returned for this attachment, if it is cached. */
  cached(networkName: string, rt: RuntimeConf): CachedAttachment | undefined {
    try {
      const c = JSON.parse(readFileSync(this.cacheFile(networkName, rt), 'utf8')) as CachedAttachment;
      return c.kind === 'cniCacheV1' ? c : undefined;
    } catch {
      return undefined;
    }
  }

  private writeCache(list: NetworkConfigList, rt: RuntimeConf, result: unknown): void {
    mkdirSync(this.o.cacheDir, { recursive: true, mode: 0o700 });
    const c: CachedAttachment = {
      kind: 'cniCacheV1',
      containerId: rt.containerId,
      ifName: rt.ifName,
      networkName: list.name,
      cniArgs: rt.args ?? [],
      config: configListJson(list),
      result,
    };
    const f = this.cacheFile(list.name, rt);
    writeFileSync(f + '.tmp', JSON.stringify(c), { mode: 0o600 });
    renameSync(f + '.tmp', f);
  }

  /** The config one plugin gets on stdin: its own section plus the list's name and version. */
  private pluginConfig(list: NetworkConfigList, p: PluginConf, prevResult: unknown): string {
    const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
    if (prevResult !== undefined) conf.prevResult = prevResult;
    else delete conf.prevResult;
    return JSON.stringify(conf);
  }

  private async invoke(cmd: CniCommand, list: NetworkConfigList, p: PluginConf, rt: RuntimeConf, prevResult: unknown): Promise<unknown> {
    const where = `network ${JSON.stringify(list.name)}: CNI plugin ${JSON.stringify(p.type)}`;
    const bad = pluginTypeError(p.type);
    if (bad) throw invalidArgument(`${where}: type ${bad}`);
    const binary = findPluginBinary(p.type, this.o.cniPath);
    if (!binary) throw notFound(`${where} not found in CNI_PATH (${this.o.cniPath.join(':')})`);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CNI_')) env[k] = v;
    env.PATH ??= '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
    Object.assign(env, {
      CNI_COMMAND: cmd,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: (rt.args ?? []).map(([k, v]) => `${k}=${v}`).join(';'),
      CNI_PATH: this.o.cniPath.join(':'),
    });
    const stdin = this.pluginConfig(list, p, prevResult);
    this.o.debug?.(`CNI ${cmd} ${binary} (net ${list.name}, if ${rt.ifName}, netns ${rt.netns})`);
    const r = await this.exec({ binary, env, stdin, timeoutMs: this.timeoutMs });
    if (r.exitCode !== 0) throw pluginError(where, cmd, r);
    if (cmd !== 'ADD' && cmd !== 'VERSION') return undefined;
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new RktError(ErrorCodes.INTERNAL, `${where} ${cmd}: the plugin printed no JSON result (${r.stdout.slice(0, 200) || 'empty output'})`);
    }
  }

  /** ADD the attachment: plugins in order, prevResult chained; the result is cached. */
  async add(list: NetworkConfigList, rt: RuntimeConf): Promise<CniResult> {
    let prev: unknown;
    for (const p of list.plugins) {
      const res = await this.invoke('ADD', list, p, rt, prev);
      normalizeResult(res, `network ${JSON.stringify(list.name)}: CNI plugin ${JSON.stringify(p.type)}`);
      prev = res;
    }
    this.writeCache(list, rt, prev);
    return normalizeResult(prev, `network ${JSON.stringify(list.name)}`);
  }

  /** CHECK the attachment against the cached ADD result (0.4.0+ lists only). */
  async check(list: NetworkConfigList, rt: RuntimeConf): Promise<void> {
    if (compareVersions(list.cniVersion, '0.4.0') < 0)
      throw new RktError(ErrorCodes.FAILED_PRECONDITION, `network ${JSON.stringify(list.name)}: CHECK needs cniVersion 0.4.0 or later (config has ${list.cniVersion})`);
    if (list.disableCheck) return;
    const c = this.cached(list.name, rt);
    if (!c) throw notFound(`network ${JSON.stringify(list.name)}: no cached result for container ${rt.containerId} interface ${rt.ifName}`);
    for (const p of list.plugins) await this.invoke('CHECK', list, p, rt, c.result);
  }

  /**
   * DEL the attachment, plugins in reverse order. The configuration used is the cached one when
   * present (so a changed or deleted config file still releases what ADD took). Every plugin is
   * run even when one fails; the errors are thrown together at the end.
   */
  async del(list: NetworkConfigList | undefined, rt: RuntimeConf & { networkName?: string }): Promise<void> {
    const name = list?.name ?? rt.networkName;
    if (!name) throw invalidArgument('CNI DEL: no network configuration and no network name');
    const c = this.cached(name, rt);
    const use = c ? networkConfigFrom(c.config, `cached config of network ${JSON.stringify(name)}`, 'conflist') : list;
    if (!use) return; // nothing was ever added, and nothing is known to release
    const prev = c && compareVersions(use.cniVersion, '0.4.0') >= 0 ? c.result : undefined;
    const errors: unknown[] = [];
    for (const p of [...use.plugins].reverse()) {
      try {
        await this.invoke('DEL', use, p, { ...rt, ...(c ? { args: c.cniArgs } : {}) }, prev);
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1)
      throw new RktError(ErrorCodes.INTERNAL, `network ${JSON.stringify(name)}: ${errors.length} plugins failed on DEL: ${errors.map((e) => (e as Error).message).join('; ')}`, { cause: errors[0] });
    rmSync(this.cacheFile(name, rt), { force: true });
  }

  /** VERSION of one plugin type: the spec versions it supports. */
  async versions(type: string): Promise<string[]> {
    const list: NetworkConfigList = { cniVersion: '1.0.0', name: 'version-probe', disableCheck: false, plugins: [{ type }], source: 'VERSION' };
    const r = (await this.invoke('VERSION', list, { type }, { containerId: '', netns: '', ifName: '' }, undefined)) as { supportedVersions?: unknown };
    return Array.isArray(r?.supportedVersions) ? r.supportedVersions.filter((v): v is string => typeof v === 'string') : [];
  }
}

/** A failed plugin run as an RktError (the CNI error object when the plugin printed one). */
export function pluginError(where: string, cmd: CniCommand, r: ExecResponse): RktError {
  let obj: { code?: unknown; msg?: unknown; details?: unknown } | undefined;
  try {
    const parsed = JSON.parse(r.stdout) as unknown;
    if (typeof parsed === 'object' && parsed !== null) obj = parsed as typeof obj;
  } catch {
    obj = undefined;
  }
  if (obj && (typeof obj.msg === 'string' || typeof obj.code === 'number')) {
    const code = typeof obj.code === 'number' ? obj.code : undefined;
    const msg = typeof obj.msg === 'string' ? obj.msg : 'error';
    const details = typeof obj.details === 'string' && obj.details ? `: ${obj.details}` : '';
    return new RktError(
      code === 11 ? ErrorCodes.UNAVAILABLE : code === 7 || code === 4 || code === 1 || code === 2 ? ErrorCodes.INVALID_ARGUMENT : ErrorCodes.INTERNAL,
      `${where} ${cmd} failed: ${msg}${details}${code !== undefined ? ` (CNI error ${code})` : ''}`,
      { details: { cniCode: code, cniMsg: msg, cniDetails: obj.details, retryable: code === 11 } },
    );
  }
  const text = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.exitCode}`).slice(0, 2000);
  return new RktError(ErrorCodes.INTERNAL, `${where} ${cmd} failed: ${text}`, { details: { exitCode: r.exitCode } });
}
