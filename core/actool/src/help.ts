/**
 * The command table and the help screens of actool 0.8.11 (same layout: Go text/template output
 * aligned by a text/tabwriter with tab padding, tab width 8, padding 1).
 */
import { defValue, type FlagDef } from './goflag.js';

export const VERSION = '0.8.11';

export interface CommandInfo {
  name: string;
  summary: string;
  usage: string;
  description: string;
  flags: FlagDef[];
}

const b = (name: string, usage: string): FlagDef => ({ name, kind: 'bool', usage });
const s = (name: string, usage: string): FlagDef => ({ name, kind: 'string', usage });

export const GLOBAL_FLAGS: FlagDef[] = [b('help', 'Print usage information and exit'), b('debug', 'Print verbose (debug) output')];

export const COMMANDS: CommandInfo[] = [
  {
    name: 'build',
    summary: 'Build an ACI from an Image Layout (experimental)',
    usage: '[--overwrite] [--no-compression] [--owner-root] DIRECTORY OUTPUT_FILE',
    description: `Build an ACI from a given directory. The directory should
contain an Image Layout. The Image Layout will be validated
before the ACI is created. The produced ACI will be
gzip-compressed by default.`,
    flags: [
      b('overwrite', 'Overwrite target file if it already exists'),
      b('owner-root', 'Force ownership to root:root on all files'),
      b('no-compression', 'Do not gzip-compress the produced ACI'),
    ],
  },
  {
    name: 'cat-manifest',
    summary: 'Print the manifest from an ACI',
    usage: ' [--pretty-print] ACI_FILE',
    description: 'Print the manifest from an ACI.',
    flags: [b('pretty-print', 'Print with better style')],
  },
  {
    name: 'discover',
    summary: 'Discover the download URLs for one or more app container images',
    usage: '[--json] [--port] [--insecure] APP...',
    description: 'Discover the download URLs for an app',
    flags: [
      b('insecure', "Don't check TLS certificates and allow insecure non-TLS downloads over http"),
      b('json', 'Output result as JSON'),
      { name: 'port', kind: 'uint', usage: 'Port to connect to when performing discovery' },
    ],
  },
  {
    name: 'help',
    summary: 'Show a list of commands or help for one command',
    usage: '[COMMAND]',
    description: 'Show a list of commands or detailed help for one command',
    flags: [],
  },
  {
    name: 'patch-manifest',
    summary: 'Copy an ACI and patch its manifest (experimental)',
    usage: `
		  [--manifest=MANIFEST_FILE]
		  [--name=example.com/app]
		  [--exec="/app --debug"]
		  [--user=uid] [--group=gid]
		  [--capability=CAP_SYS_ADMIN,CAP_NET_ADMIN]
		  [--revoke-capability=CAP_SYS_CHROOT,CAP_MKNOD]
		  [--mounts=work,path=/opt,readOnly=true[:work2,...]]
		  [--ports=query,protocol=tcp,port=8080[:query2,...]]
		  [--supplementary-groups=gid1,gid2,...]
		  [--isolators=resource/cpu,request=50m,limit=100m[:resource/memory,...]]
		  [--seccomp-mode=remove|retain[,errno=EPERM]]
		  [--seccomp-set=syscall1,syscall2,...]]
		  [--replace]
		  INPUT_ACI_FILE
		  [OUTPUT_ACI_FILE]`,
    description: 'Copy an ACI and patch its manifest.',
    flags: [
      b('overwrite', 'Overwrite target file if it already exists'),
      b('no-compression', 'Do not gzip-compress the produced ACI'),
      b('replace', 'Replace the input file'),
      s('manifest', 'Replace image manifest with this file. Incompatible with other replace options.'),
      s('name', 'Replace name'),
      s('exec', 'Replace the command line to launch the executable'),
      s('user', 'Replace user'),
      s('group', 'Replace group'),
      s('supplementary-groups', 'Replace supplementary groups, expects a comma-separated list.'),
      s('capability', 'Set the capability remain set'),
      s('revoke-capability', 'Set the capability remove set'),
      s('mounts', 'Replace mount points'),
      s('ports', 'Replace ports'),
      s('isolators', 'Replace isolators'),
      s('seccomp-mode', 'Enable and configure seccomp isolator'),
      s('seccomp-set', 'Set of syscalls for seccomp isolator enforcing'),
    ],
  },
  {
    name: 'validate',
    summary: 'Validate that one or more images or manifests meet the AppContainer specification',
    usage: '[--type=TYPE] FILE...',
    description: 'Validate one or more AppContainer files',
    flags: [s('type', 'Type of file to validate. If unset, actool will try to detect the type. One of "appimage,layout,manifest"')],
  },
  { name: 'version', summary: 'Print the version and exit', usage: '', description: 'Print the version and exit', flags: [] },
];

export const commandInfo = (name: string) => COMMANDS.find((c) => c.name === name);

/** Go text/tabwriter with padchar '\t', tabwidth 8, padding 1, minwidth 0. */
export function tabwrite(text: string): string {
  const TW = 8;
  const lines = text.split('\n').map((l) => l.split('\t'));
  // The text after the last newline is kept as is (it is empty for our templates).
  const last = lines.pop()!;
  const width = (c: string) => [...c].length;
  let out = '';
  const widths: number[] = [];
  const writeLines = (l0: number, l1: number) => {
    for (let i = l0; i < l1; i++) {
      const cells = lines[i]!;
      cells.forEach((c, j) => {
        out += c;
        if (j < widths.length && j < cells.length - 1) {
          const cellw = Math.ceil(widths[j]! / TW) * TW;
          out += '\t'.repeat(Math.ceil((cellw - width(c)) / TW));
        }
      });
      out += '\n';
    }
  };
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= lines[t]!.length - 1) continue;
      writeLines(line0, t);
      line0 = t;
      let w = 0;
      for (; t < line1; t++) {
        const cells = lines[t]!;
        if (column >= cells.length - 1) break;
        w = Math.max(w, width(cells[column]!) + 1);
      }
      widths.push(w);
      format(line0, t);
      widths.pop();
      line0 = t;
      t--; // the loop's t++ must not skip the line that ended the block
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out + last.join('\t');
}

const option = (f: FlagDef) => `\t${f.name.length === 1 ? '-' : '--'}${f.name}=${defValue(f)}\t${f.usage}`;
const sorted = (defs: readonly FlagDef[]) => [...defs].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));

export function globalUsage(): string {
  return tabwrite(
    `NAME:
\tactool - actool, the application container tool

USAGE:
\tactool [global options] <command> [command options] [arguments...]

VERSION:
\t${VERSION}

COMMANDS:${COMMANDS.map((c) => `\n\t${c.name}\t${c.summary}`).join('')}

GLOBAL OPTIONS:${sorted(GLOBAL_FLAGS)
      .map((f) => '\n' + option(f))
      .join('')}

Run "actool help <command>" for more details on a specific command.
`,
  );
}

export function commandUsage(c: CommandInfo): string {
  const desc = c.description
    .replace(/^[\n\t ]+|[\n\t ]+$/g, '')
    .split('\n')
    .map((l) => `\t${l}\n`)
    .join('');
  const opts = c.flags.length > 0 ? `OPTIONS:${sorted(c.flags).map((f) => '\n' + option(f)).join('')}\n\n` : '';
  return tabwrite(
    `NAME:
\t${c.name} - ${c.summary}

USAGE:
\tactool ${c.name} ${c.usage}

DESCRIPTION:
${desc}
${opts}For help on global options run "actool help"
`,
  );
}
