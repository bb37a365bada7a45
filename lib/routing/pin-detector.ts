// Owns finding the server pins (lib/session/pins) a statement text creates, for every database
// in transaction and statement mode, routed or not: a byte check first (lib/session/pins
// mayPin: temp, advisory, hold, prepare), and only for texts that pass, the classifier, cached
// by text. A plain SELECT/INSERT/UPDATE never reaches the parser here.

import { maskOf, mayPin, SERVER_PINS } from '../session/pins';
import { Classifier } from './classify';

/**
 * Pins depend on the text alone (no per-database options), so one cache serves every pool. It
 * is bounded (entries and characters): a memo, not state anyone writes but itself.
 */
const detector = new Classifier({}, { max: 2000, maxChars: 1_000_000 });

/** Server pins (bits of Pin) the statement text at buf[from..stop) creates; 0 for almost every text. */
export function serverPinsOf(buf: Buffer, from: number, stop: number): number {
  if (!mayPin(buf, from, stop)) return 0;
  return serverPinsOfText(buf.toString('utf8', from, stop));
}

/** serverPinsOf for a decoded text. */
export function serverPinsOfText(sql: string): number {
  return maskOf(detector.classify(sql).pins) & SERVER_PINS;
}
