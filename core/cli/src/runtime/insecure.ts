import { invalidArgument, type InsecureOptions } from '@rkt/api';

const SINGLE = ['image', 'tls', 'http', 'pubkey', 'capabilities', 'paths', 'seccomp'] as const;
const GROUPS: Record<string, readonly (typeof SINGLE)[number][]> = {
  none: [],
  ondisk: [], // accepted and ignored, as rkt (legacy)
  'all-fetch': ['image', 'tls', 'http', 'pubkey'],
  'all-run': ['capabilities', 'paths', 'seccomp'],
  all: SINGLE,
};

export const INSECURE_OPTION_NAMES = [...SINGLE, ...Object.keys(GROUPS)];

export function noInsecureOptions(): InsecureOptions {
  return { image: false, tls: false, http: false, pubkey: false, capabilities: false, paths: false, seccomp: false };
}

/** Parse `--insecure-options` (comma list); an unknown value is an error naming it. */
export function parseInsecureOptions(value: string | undefined): InsecureOptions {
  const out = noInsecureOptions();
  if (!value) return out;
  for (const raw of value.split(',')) {
    const v = raw.trim().toLowerCase();
    if (v === '') continue;
    if ((SINGLE as readonly string[]).includes(v)) out[v as (typeof SINGLE)[number]] = true;
    else if (v in GROUPS) for (const k of GROUPS[v]!) out[k] = true;
    else
      throw invalidArgument(
        `invalid --insecure-options value ${JSON.stringify(raw)}: allowed values are ${INSECURE_OPTION_NAMES.join(', ')}`,
        { details: { flag: '--insecure-options', value: raw } },
      );
  }
  return out;
}
