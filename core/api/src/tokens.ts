/**
 * Typed DI tokens. `Symbol.for` makes a token identical across two copies of this package
 * (a plugin installed under the CLI's data dir may bring its own copy).
 */
export type Token<T> = symbol & { readonly __type?: T };

export function token<T>(uri: string): Token<T> {
  return Symbol.for(uri) as Token<T>;
}

export function tokenUri(t: Token<unknown>): string {
  return Symbol.keyFor(t) ?? t.description ?? String(t);
}
