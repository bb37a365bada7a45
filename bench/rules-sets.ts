// Owns the rules tables the [rules] benchmarks run (bench/rules.ts end to end, bench/rules-match.ts
// in process): 50 rules for other clients, and 50 rules that look at every statement and match
// none of pgbench's select-only.

/** 50 rules, each with a condition on the client that the bench's client (user app, db app, pgbench, 127.0.0.1) does not meet. */
export function identityRules(): string {
  const out: string[] = [];
  for (let i = 0; i < 50; i++) {
    switch (i % 5) {
      case 0:
        out.push(`other_user_${i} = user=reporting_${i} statement_timeout=30s`);
        break;
      case 1:
        out.push(`other_app_${i} = application_name=batch_${i}* rate=100/s rate_wait=1s`);
        break;
      case 2:
        out.push(`other_db_${i} = database=tenant_${i} kind=drop deny=yes`);
        break;
      case 3:
        out.push(`other_net_${i} = address=10.${i}.0.0/16 route=primary`);
        break;
      default:
        out.push(`other_both_${i} = user=etl_${i} application_name=loader kind=write statement_timeout=5min`);
    }
  }
  return out.join('\n') + '\n';
}

/** 50 rules for every client that look at each statement and match none of pgbench's select-only. */
export function statementRules(): string {
  const out: string[] = [];
  const kinds = ['drop', 'truncate', 'insert', 'update', 'delete', 'alter', 'create', 'grant', 'vacuum', 'lock'];
  for (let i = 0; i < 50; i++) {
    switch (i % 3) {
      case 0:
        out.push(`regex_${i} = regex='\\bfrom\\s+audit_${i}\\b' deny=yes`);
        break;
      case 1:
        out.push(`kind_${i} = kind=${kinds[i % kinds.length]} statement_timeout=${i + 1}s`);
        break;
      default:
        out.push(`fingerprint_${i} = fingerprint=${(0x1000000000000000n + BigInt(i) * 7919n).toString(16).slice(0, 16)} statement_timeout=2s`);
    }
  }
  return out.join('\n') + '\n';
}

