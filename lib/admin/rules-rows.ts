// Owns the rows of the console's [rules] views (SHOW RULES, SHOW CACHE) and the rules' columns
// of SHOW ROUTE, read from the registry's rules engine (lib/rules).

import type { Registry } from '../pool/registry';
import { describeActions, describeMatch, READ_BIT, WRITE_BIT } from '../rules/rule-set';
import type { CacheRow, RuleRow } from './views';

/** SHOW RULES: every rule in the order they are tried. */
export function ruleRows(registry: Registry): RuleRow[] {
  return registry.rules.rules.rules.map((r) => ({
    position: r.index + 1,
    name: r.name,
    match: describeMatch(r.def),
    actions: describeActions(r.def),
    matched: r.counters.matched,
    denied: r.counters.denied,
    throttled: r.counters.throttled,
    refused: r.counters.refused,
    timedOut: r.counters.timedOut,
    cacheHits: r.counters.cached,
    source: r.def.source,
  }));
}

/** SHOW CACHE: one row per database the cache has seen; none while result_cache_size is 0. */
export function cacheRows(registry: Registry): CacheRow[] {
  const cache = registry.rules.cache;
  if (cache === null) return [];
  return [...cache.counters].map(([database, c]) => ({ database, ...c, maxBytes: cache.maxBytes }));
}

/**
 * SHOW ROUTE's rule columns for `sql` in `database`: the rules that would act on it (each with
 * its actions, and the conditions on the client it needs), the route the first of them imposes,
 * and the statement's fingerprint.
 */
export function ruleColumns(
  registry: Registry,
  database: string,
  sql: string,
  target: 'primary' | 'replica',
): { rule: string; ruleActions: string; fingerprint: string; route: { to: 'primary' | 'replica'; rule: string } | null } {
  const engine = registry.rules;
  const facts = engine.facts(sql);
  const matched = engine.rules.explain(database, sql, () => (target === 'replica' ? READ_BIT : WRITE_BIT), () => facts);
  // The route a client without conditions gets: from the first rule that has one and holds for every client.
  const route = matched.find((r) => r.def.route !== undefined && !r.clientConditions)?.def.route ?? null;
  const ruleActions = matched
    .map((r) => {
      const d = r.def;
      const who = [
        d.users === undefined ? '' : `user=${d.users.join(',')}`,
        d.applicationNames === undefined ? '' : `application_name=${d.applicationNames.join(',')}`,
        d.addresses === undefined ? '' : `address=${d.addresses.map((a) => (a.kind === 'unix' ? 'unix' : a.text)).join(',')}`,
        d.inTransaction === undefined ? '' : `in_transaction=${d.inTransaction ? 'yes' : 'no'}`,
      ].filter((w) => w !== '');
      return `${r.name}: ${describeActions(d)}${who.length > 0 ? ` (when ${who.join(' ')})` : ''}`;
    })
    .join('; ');
  const routeRule = matched.find((r) => r.def.route !== undefined && !r.clientConditions)?.name ?? '';
  return { rule: matched.map((r) => r.name).join(', '), ruleActions, fingerprint: facts.fingerprint, route: route === null ? null : { to: route, rule: routeRule } };
}
