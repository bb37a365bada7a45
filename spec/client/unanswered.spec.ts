// Unit spec of lib/client/resend's UnansweredRequest: which requests may go to another server
// when theirs dies before answering. The classification (resendable) runs only when a server is
// lost, not for every request; these cases pin that it decides as it did when it ran at link.

import { UnansweredRequest } from '../../lib/client/resend';
import { cstr, frame } from '../support/bytes';

const query = (sql: string): Buffer => frame('Q', cstr(sql));
const sync = (): Buffer => frame('S');
const parseUnnamed = (sql: string): Buffer => frame('P', cstr(''), cstr(sql), Buffer.from([0, 0]));
const parseNamed = (name: string, sql: string): Buffer => frame('P', cstr(name), cstr(sql), Buffer.from([0, 0]));

function lostKind(chunks: Buffer[], opts: { readOnly?: boolean; session?: boolean; more?: Buffer[] } = {}): string {
  const u = new UnansweredRequest();
  u.begin(chunks, opts.readOnly ?? false, opts.session ?? false);
  for (const c of opts.more ?? []) u.keep(c);
  return u.lost(true).kind;
}

describe('a request whose server died unanswered', () => {
  it('goes again when the router placed it as a read', () => {
    expect(lostKind([query('SELECT 1')], { readOnly: true })).toBe('resend');
  });

  it('goes again when it only begins a transaction, also through the extended protocol', () => {
    expect(lostKind([query('BEGIN')])).toBe('resend');
    expect(lostKind([Buffer.concat([parseUnnamed('begin'), sync()])])).toBe('resend');
  });

  it('does not go again when it may have written', () => {
    expect(lostKind([query('UPDATE t SET a = 1')])).toBe('fail');
  });

  it('never goes again when it names statements (PREPARE, EXECUTE, DEALLOCATE, DISCARD, a named Parse), even placed as a read', () => {
    expect(lostKind([query('PREPARE s AS SELECT 1')], { readOnly: true })).toBe('fail');
    expect(lostKind([query('SELECT 1; EXECUTE s')], { readOnly: true })).toBe('fail');
    expect(lostKind([query('DISCARD ALL')], { readOnly: true })).toBe('fail');
    expect(lostKind([Buffer.concat([parseNamed('s1', 'SELECT 1'), sync()])], { readOnly: true })).toBe('fail');
  });

  it('is no longer a read or a lone BEGIN once the client sent more before the answer', () => {
    expect(lostKind([query('SELECT 1')], { readOnly: true, more: [query('SELECT 2')] })).toBe('fail');
    expect(lostKind([query('BEGIN')], { more: [query('SELECT 2')] })).toBe('fail');
  });

  it('a read whose later chunk names a statement does not go again either', () => {
    expect(lostKind([query('BEGIN')], { more: [query('PREPARE s AS SELECT 1')] })).toBe('fail');
  });

  it('never goes again in session pooling, nor once its answer began', () => {
    expect(lostKind([query('SELECT 1')], { readOnly: true, session: true })).toBe('fail');
    const u = new UnansweredRequest();
    u.begin([query('SELECT 1')], true, false);
    u.answered();
    expect(u.lost(true).kind).toBe('fail');
  });

  it('goes at most three times over', () => {
    const u = new UnansweredRequest();
    for (let i = 0; i < 3; i++) {
      u.begin([query('SELECT 1')], true, false);
      expect(u.lost(true).kind).toBe('resend');
      u.resent();
    }
    u.begin([query('SELECT 1')], true, false);
    expect(u.lost(true).kind).toBe('fail');
  });
});
