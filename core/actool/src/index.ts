export { main, prepare, runCommand, goExt, looksLikeText, processIo, type Io } from './cli.js';
export { FlagSet, printDefaults, goQuote, type FlagDef, type FlagValues } from './goflag.js';
export { COMMANDS, globalUsage, commandUsage, tabwrite } from './help.js';
