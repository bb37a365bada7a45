// Owns the public face of lib/config: everything other folders may import from '../config'.

export { ConfigError } from './errors';
export type { Config, DatabaseDef, PoolMode, UserDef } from './types';
export { loadConfig } from './load';
export type { PeerDef } from './peers';
export { parseConnString, ADMIN_DATABASE } from './connstring';
export { reloadChanges, applyReload, type ReloadChanges } from './reload';
export { SETTINGS, POOL_MODES, findSetting } from './settings';
export type { SettingRow, SettingType, SettingName, SettingValue, Settings } from './settings';
export { formatSetting, parseSettingValue, defaultSettings, defaultValue } from './values';
export { effective, resolveDatabase, type OverridableSetting } from './effective';
export { MAX_INCLUDE_DEPTH } from './ini';
export { showConfigRows, type ShowConfigRow } from './show';
export {
  databaseHosts,
  formatLagLimit,
  parseHostList,
  MAX_REPLICA_WEIGHT,
  MAX_REPLICAS,
  NO_LAG_LIMIT,
  parseLagLimit,
  parseReplicaList,
  type HostEntry,
  type LagLimit,
  type ReplicaAddress,
} from './routing';
export { databaseFromPairs } from './connstring';
export { parseRule, rulesSettingsProblem, parseAddress, ipBytes, parseDurationMs, RULE_KINDS, type RuleDef, type RuleKind, type RateDef, type RateBy, type AddressDef } from './rules';
