/**
 * actool 0.8.11 commands: same flags (Go flag syntax), messages, stdout/stderr split and exit
 * codes as the reference. Each command is a function of its arguments and an Io, so that the
 * oclif commands, bin/run.js and tests share one implementation.
 */
import { closeSync, constants as fsc, createReadStream, createWriteStream, openSync, readFileSync, readSync, renameSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { randomInt } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import {
  checkImageManifest,
  checkManifest,
  detectCompression,
  discoverAciEndpoints,
  discoverPublicKeys,
  goError,
  imageManifestToJson,
  parseAppString,
  patchManifestBytes,
  readAciManifest,
  rewriteAciManifest,
  runtimeGoOsArch,
  checkAciFile,
  validateLayout,
  writeAci,
  type Compression,
  type PatchManifestOptions,
} from '@rkt/appc';
import { FlagSet, goQuote, type FlagValues } from './goflag.js';
import { COMMANDS, GLOBAL_FLAGS, VERSION, commandInfo, commandUsage, globalUsage } from './help.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export const processIo: Io = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
};

/** Go's stderr(): one line, trailing newline trimmed then added. */
const say = (io: Io, msg: string) => io.err(msg.replace(/\n$/, '') + '\n');
const msgOf = (e: unknown): string => {
  const m = (e as Error)?.message ?? String(e);
  return m.replace(/^invalid ACI: /, '');
};

let globalDebug = false;

/**
 * Global flags and command lookup, as the reference's main(): returns the exit status when the
 * run ends here (help, errors), or the command to run with its arguments.
 */
export function prepare(argv: readonly string[], io: Io): { exit: number } | { command: string; args: string[] } {
  const global = new FlagSet('actool', GLOBAL_FLAGS);
  const r = global.parse(argv);
  if (!r.ok) {
    io.err(r.output);
    return { exit: r.help ? 0 : 2 };
  }
  globalDebug = r.values.debug === true;
  let args = r.args;
  if (args.length < 1 || r.values.help === true) args = ['help'];
  if (!commandInfo(args[0]!)) {
    say(io, `actool: unknown subcommand: ${goQuote(args[0]!)}`);
    say(io, "Run 'actool help' for usage.");
    return { exit: 2 };
  }
  return { command: args[0]!, args: args.slice(1) };
}

export function setDebug(on: boolean): void {
  globalDebug = on;
}

type Runner = (values: FlagValues, args: string[], io: Io) => Promise<number> | number;

/** Parse the command's flags and run it; returns the exit status. */
export async function runCommand(name: string, argv: readonly string[], io: Io = processIo): Promise<number> {
  const info = commandInfo(name);
  const runner = RUNNERS[name];
  if (!info || !runner) {
    say(io, `actool: unknown subcommand: ${goQuote(name)}`);
    say(io, "Run 'actool help' for usage.");
    return 2;
  }
  const r = new FlagSet('', info.flags).parse(argv);
  if (!r.ok) {
    io.err(r.output);
    say(io, r.error);
    return 2;
  }
  try {
    return await runner(r.values, r.args, io);
  } catch (e) {
    // Never a stack trace: anything unexpected is reported like the command's other failures.
    say(io, `${name}: ${msgOf(e)}`);
    return 1;
  }
}

/** Whole command line, as bin/run.js does it (without oclif). */
export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const p = prepare(argv, io);
  if ('exit' in p) return p.exit;
  return runCommand(p.command, p.args, io);
}

/* ------------------------------------------------------------------ helpers */

/** Go's filepath.Ext. */
export function goExt(p: string): string {
  for (let i = p.length - 1; i >= 0 && p[i] !== '/'; i--) if (p[i] === '.') return p.slice(i);
  return '';
}

function head(path: string, n = 512): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(n);
    const k = readSync(fd, b, 0, n, 0);
    return b.subarray(0, k);
  } finally {
    closeSync(fd);
  }
}

/** Open for writing like os.OpenFile(O_CREATE|O_WRONLY|O_TRUNC or O_EXCL, 0644). */
function openOutput(path: string, overwrite: boolean): number {
  return openSync(path, fsc.O_CREAT | fsc.O_WRONLY | (overwrite ? fsc.O_TRUNC : fsc.O_EXCL), 0o644);
}

const fdStream = (fd: number) => createWriteStream('', { fd, highWaterMark: 1 << 20 });

/**
 * Go's http.DetectContentType == "text/plain; charset=utf-8" on the first 512 bytes: no binary
 * control bytes and no signature of another type (html/xml/pdf/ps, images, fonts, audio).
 */
export function looksLikeText(b: Buffer): boolean {
  if (b.length >= 2 && ((b[0] === 0xfe && b[1] === 0xff) || (b[0] === 0xff && b[1] === 0xfe))) return false;
  if (b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return true;
  let i = 0;
  while (i < b.length && [0x09, 0x0a, 0x0c, 0x0d, 0x20].includes(b[i]!)) i++;
  const ws = b.subarray(i).toString('latin1');
  const upper = ws.toUpperCase();
  const tags = ['<!DOCTYPE HTML', '<HTML', '<HEAD', '<SCRIPT', '<IFRAME', '<H1', '<DIV', '<FONT', '<TABLE', '<A', '<STYLE', '<TITLE', '<B', '<BODY', '<BR', '<P', '<!--'];
  for (const t of tags) {
    if (upper.startsWith(t) && ws.length > t.length && (ws[t.length] === ' ' || ws[t.length] === '>')) return false;
  }
  if (ws.startsWith('<?xml')) return false;
  const raw = b.toString('latin1');
  for (const sig of ['%PDF-', '%!PS-Adobe-', 'GIF87a', 'GIF89a', 'BM', 'ID3', 'wOFF', 'wOF2', 'OTTO', 'ttcf', '.snd', 'MThd']) if (raw.startsWith(sig)) return false;
  if (raw.startsWith('FORM') && raw.slice(8, 12) === 'AIFF') return false;
  if (raw.startsWith('RIFF') && ['WAVE', 'AVI ', 'WEBP'].includes(raw.slice(8, 12))) return false;
  for (const c of b) if (c <= 0x08 || c === 0x0b || (c >= 0x0e && c <= 0x1a) || (c >= 0x1c && c <= 0x1f)) return false;
  return true;
}

/** Why the reference's NewCompressedReader refuses a file that is no ACI. */
const notAnAci = (first: Buffer) => (looksLikeText(first) ? 'no type returned from DetectFileType?' : 'error: unknown image filetype');

/* ------------------------------------------------------------------ commands */

async function runBuild(v: FlagValues, args: string[], io: Io): Promise<number> {
  if (args.length !== 2) return say(io, 'build: Must provide directory and output file'), 1;
  const [root, tgt] = args as [string, string];
  const ext = goExt(tgt);
  if (ext !== '.aci') return say(io, `build: Extension must be .aci (given ${ext})`), 1;
  try {
    validateLayout(root);
  } catch (e) {
    return say(io, `build: Layout failed validation: ${msgOf(e)}`), 1;
  }
  const overwrite = v.overwrite === true;
  let fd: number;
  try {
    fd = openOutput(tgt, overwrite);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') say(io, 'build: Target file exists (try --overwrite)');
    else say(io, `build: Unable to open target ${tgt}: ${goError(e, 'open', tgt)}`);
    return 1;
  }
  try {
    await writeAci(root, fdStream(fd), {
      compression: v['no-compression'] === true ? 'none' : 'gzip',
      ownerRoot: v['owner-root'] === true,
      onWarning: (w) => say(io, `build: Warning: ${w}`),
    });
    return 0;
  } catch (e) {
    say(io, `build: Error walking rootfs: ${msgOf(e)}`);
    if (!overwrite) {
      try {
        unlinkSync(tgt);
      } catch {
        /* already gone */
      }
    }
    return 1;
  }
}

const MAX_MANIFEST_FILE = 64 << 20;

async function runValidate(v: FlagValues, args: string[], io: Io): Promise<number> {
  if (args.length < 1) return say(io, 'must pass one or more files'), 1;
  let exit = 0;
  for (const path of args) {
    let vt = String(v.type);
    let st: Stats;
    try {
      st = statSync(path);
    } catch (e) {
      return say(io, `unable to access ${path}: ${goError(e, 'stat', path)}`), 1;
    }
    let first: Buffer | undefined;
    if (st.isDirectory()) {
      if (vt === '') vt = 'layout';
      else if (vt === 'manifest' || vt === 'appimage') return say(io, `${path} is a directory (wrong --type?)`), 1;
      else if (vt !== 'layout') {
        // The reference panics here; we say why and keep its exit status.
        say(io, `panic: unexpected type: ${vt}`);
        return 2;
      }
    } else {
      try {
        first = head(path);
      } catch (e) {
        return say(io, `${path}: unable to open: ${goError(e, 'open', path)}`), 1;
      }
    }
    if (vt === '') {
      const c = detectCompression(first!);
      vt = c ? 'appimage' : looksLikeText(first!) ? 'manifest' : '';
    }
    if (vt === 'layout') {
      try {
        validateLayout(path);
        if (globalDebug) say(io, `${path}: valid image layout`);
      } catch (e) {
        say(io, `${path}: invalid image layout: ${msgOf(e)}`);
        exit = 1;
      }
    } else if (vt === 'appimage') {
      if (!detectCompression(first!)) return say(io, `${path}: error decompressing file: ${notAnAci(first!)}`), 1;
      try {
        await checkAciFile(path, {
          parseManifest: (bytes) => {
            const r = checkImageManifest(bytes);
            if (r.problems.length > 0 || !r.manifest) throw new Error(`image manifest validation failed: ${r.problems[0]?.message ?? 'invalid'}`);
            return r.manifest;
          },
        });
        if (globalDebug) say(io, `${path}: valid app container image`);
      } catch (e) {
        say(io, `${path}: error validating: ${msgOf(e)}`);
        exit = 1;
      }
    } else if (vt === 'manifest') {
      let bytes: Buffer;
      try {
        if (st.size > MAX_MANIFEST_FILE) throw new Error(`the file is larger than ${MAX_MANIFEST_FILE} bytes`);
        bytes = readFileSync(path);
      } catch (e) {
        return say(io, `${path}: unable to read file ${msgOf(e)}`), 1;
      }
      const r = checkManifest(bytes);
      if (!r.kind) return say(io, `${path}: error unmarshaling manifest: ${r.problems[0]?.message ?? 'invalid'}`), 1;
      if (r.problems.length > 0) {
        say(io, `${path}: invalid ${r.kind}: ${r.problems[0]!.message}`);
        exit = 1;
      } else if (globalDebug) say(io, `${path}: valid ${r.kind}`);
    } else return say(io, `${path}: unable to detect filetype (try --type)`), 1;
  }
  return exit;
}

async function runCatManifest(v: FlagValues, args: string[], io: Io): Promise<number> {
  if (args.length !== 1) return say(io, 'cat-manifest: Must provide one file'), 1;
  const path = args[0]!;
  let first: Buffer;
  try {
    first = head(path);
  } catch (e) {
    return say(io, `cat-manifest: Cannot open ${path}: ${goError(e, 'open', path)}`), 1;
  }
  if (!detectCompression(first)) return say(io, `cat-manifest: Cannot extract ${path}: ${notAnAci(first)}`), 1;
  let bytes: Buffer | undefined;
  try {
    bytes = await readAciManifest(createReadStream(path, { highWaterMark: 1 << 20 }));
  } catch (e) {
    return say(io, `cat-manifest: Unable to read ${path}: error reading tarball: ${msgOf(e)}`), 1;
  }
  if (!bytes) return 0;
  const pretty = v['pretty-print'] === true;
  if (!pretty) io.out(bytes.toString('utf8') + '\n');
  const r = checkImageManifest(bytes);
  if (r.problems.length > 0 || !r.manifest) return say(io, `cat-manifest: Unable to read ${path}: ${r.problems[0]?.message ?? 'invalid manifest'}`), 1;
  if (pretty) io.out(imageManifestToJson(r.manifest, { pretty: true }) + '\n');
  return 0;
}

async function runPatchManifest(v: FlagValues, args: string[], io: Io): Promise<number> {
  const str = (k: string) => String(v[k] ?? '');
  const replace = v.replace === true;
  const overwrite = v.overwrite === true;
  if (replace && overwrite) return say(io, 'patch-manifest: Cannot use both --replace and --overwrite'), 1;
  if (!replace && args.length !== 2) return say(io, 'patch-manifest: Must provide input and output files (or use --replace)'), 1;
  if (replace && args.length !== 1) return say(io, 'patch-manifest: Must provide one file'), 1;
  if (str('manifest') !== '' && ['name', 'exec', 'user', 'group', 'capability', 'mounts'].some((k) => str(k) !== ''))
    return say(io, 'patch-manifest: --manifest is incompatible with other manifest editing options'), 1;
  const input = args[0]!;
  let outName: string;
  let fd: number;
  if (replace) {
    // ioutil.TempFile(path.Dir(input), ".actool-tmp."+base+"-"): mode 0600, like the reference.
    const dir = dirname(input);
    outName = '';
    fd = -1;
    for (let i = 0; i < 10000 && fd < 0; i++) {
      outName = join(dir, `.actool-tmp.${basename(input)}-${randomInt(1e9)}`);
      try {
        fd = openSync(outName, fsc.O_CREAT | fsc.O_WRONLY | fsc.O_EXCL, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return say(io, `patch-manifest: Cannot create temporary file: ${goError(e, 'open', outName)}`), 1;
      }
    }
  } else {
    outName = args[1]!;
    const ext = goExt(outName);
    if (ext !== '.aci') return say(io, `patch-manifest: Extension must be .aci (given ${ext})`), 1;
    try {
      fd = openOutput(outName, overwrite);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') say(io, 'patch-manifest: Output file exists (try --overwrite)');
      else say(io, `patch-manifest: Unable to open output ${outName}: ${goError(e, 'open', outName)}`);
      return 1;
    }
  }
  const out = fdStream(fd);
  const fail = (msg: string) => {
    say(io, msg);
    out.destroy();
    if (!overwrite) {
      try {
        unlinkSync(outName);
      } catch {
        /* gone */
      }
    }
    return 1;
  };
  let first: Buffer;
  try {
    first = head(input);
  } catch (e) {
    return fail(`patch-manifest: Cannot open ${input}: ${goError(e, 'open', input)}`);
  }
  if (!detectCompression(first)) return fail(`patch-manifest: Cannot extract ${input}: ${notAnAci(first)}`);
  let newManifest: Buffer | undefined;
  const mfile = str('manifest');
  if (mfile !== '') {
    try {
      newManifest = readFileSync(mfile);
    } catch (e) {
      return fail(`patch-manifest: Cannot open ${mfile}: ${goError(e, 'open', mfile)}`);
    }
  }
  const options: PatchManifestOptions = {
    name: str('name'),
    exec: str('exec'),
    user: str('user'),
    group: str('group'),
    supplementaryGroups: str('supplementary-groups'),
    capability: str('capability'),
    revokeCapability: str('revoke-capability'),
    mounts: str('mounts'),
    ports: str('ports'),
    isolators: str('isolators'),
    seccompMode: str('seccomp-mode'),
    seccompSet: str('seccomp-set'),
    ...(newManifest && newManifest.length > 0 ? { manifest: newManifest } : {}),
  };
  const compression: Compression = v['no-compression'] === true ? 'none' : 'gzip';
  try {
    await rewriteAciManifest(createReadStream(input, { highWaterMark: 1 << 20 }), out, (old) => patchManifestBytes(old, options), { compression });
  } catch (e) {
    return fail(`patch-manifest: Unable to read ${input}: ${msgOf(e)}`);
  }
  if (replace) {
    try {
      renameSync(outName, input);
    } catch (e) {
      return fail(`patch-manifest: Cannot rename ${JSON.stringify(outName)} to ${JSON.stringify(input)}: ${msgOf(e)}`);
    }
  }
  return 0;
}

async function runDiscover(v: FlagValues, args: string[], io: Io): Promise<number> {
  // The reference reports a missing name but still exits 0.
  if (args.length < 1) say(io, 'discover: at least one name required');
  const insecure = v.insecure === true;
  const port = Number(v.port ?? 0);
  for (const name of args) {
    let app;
    try {
      app = parseAppString(name);
    } catch (e) {
      // The reference dereferences a nil app here and panics (exit 2).
      say(io, `${name}: ${msgOf(e)}`);
      return 2;
    }
    const { os, arch } = runtimeGoOsArch();
    app.labels.os ||= os;
    app.labels.arch ||= arch;
    const opts = { insecureTls: insecure, insecureHttp: insecure, ...(port ? { port } : {}) };
    let eps;
    try {
      eps = await discoverAciEndpoints(app, opts);
    } catch (e) {
      return say(io, `error fetching endpoints for ${name}: ${msgOf(e)}`), 1;
    }
    for (const a of eps.attempts) io.out(`discover endpoints walk: prefix: ${a.prefix} error: ${a.error.message}\n`);
    let keys;
    try {
      keys = await discoverPublicKeys(app, opts);
    } catch (e) {
      return say(io, `error fetching public keys for ${name}: ${msgOf(e)}`), 1;
    }
    for (const a of keys.attempts) io.out(`discover public keys walk: prefix: ${a.prefix} error: ${a.error.message}\n`);
    if (v.json === true) {
      const data = {
        ACIEndpoints: eps.endpoints.map((e) => ({ ACI: e.aci, ASC: e.asc })),
        PublicKeys: keys.publicKeys,
      };
      io.out(goIndent(data) + '\n');
    } else {
      for (const e of eps.endpoints) io.out(`ACI: ${e.aci}, ASC: ${e.asc}\n`);
      if (keys.publicKeys.length > 0) io.out('PublicKeys: ' + keys.publicKeys.join(',') + '\n');
    }
  }
  return 0;
}

/** json.MarshalIndent(v, "", "    ") for plain data (Go escapes <, >, & in strings). */
function goIndent(v: unknown): string {
  return JSON.stringify(v, null, 4).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function runHelp(_v: FlagValues, args: string[], io: Io): number {
  if (args.length < 1) {
    io.out(globalUsage());
    return 0;
  }
  const c = COMMANDS.find((x) => x.name === args[0]);
  if (!c) return say(io, `Unrecognized command: ${args[0]}`), 1;
  io.out(commandUsage(c));
  return 0;
}

function runVersion(_v: FlagValues, _args: string[], io: Io): number {
  io.out(`actool version ${VERSION}\n`);
  return 0;
}

const RUNNERS: Record<string, Runner> = {
  build: runBuild,
  'cat-manifest': runCatManifest,
  discover: runDiscover,
  help: runHelp,
  'patch-manifest': runPatchManifest,
  validate: runValidate,
  version: runVersion,
};
