/**
 * ZooKeeper's four-letter words: a word such as `srvr` or `mntr` written to a member's client port, which
 * answers in plain text and closes the connection. A member answers only the words its
 * `4lw.commands.whitelist` allows (Capstan's `zoo.cfg` allows `ruok`, `srvr` and `mntr`, see
 * zookeeper-config.ts). Used by the operator to learn each member's role before a restart and by the
 * local processes of tests and `make dev` to know when an ensemble serves.
 */
import { tcpExchange, TcpExchangeError } from './tcp-exchange.ts';

/** The four-letter words Capstan's members allow. */
export type FourLetterWord = 'ruok' | 'srvr' | 'mntr';

/**
 * A member's role as `srvr` reports it on its `Mode:` line. A member that is not serving (electing a
 * leader, cut off from the quorum) reports no mode; callers then hold `undefined`.
 */
export type ZooKeeperMode = 'standalone' | 'leader' | 'follower' | 'observer';

/** Default deadline of one exchange, in milliseconds. */
export const FOUR_LETTER_TIMEOUT_MS = 1000;

/** Options of {@link fourLetterWord} and {@link zooKeeperMode}. */
export interface FourLetterOptions {
  /** Deadline of the exchange (connect included); default {@link FOUR_LETTER_TIMEOUT_MS}. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Sends `word` to the member at `host:port` and resolves with its whole answer. Rejects with
 * `TcpExchangeError` (TIMEOUT, ABORTED or SOCKET) when it does not answer within the deadline.
 */
export function fourLetterWord(
  host: string,
  port: number,
  word: FourLetterWord,
  options: FourLetterOptions = {},
): Promise<string> {
  return tcpExchange(host, port, word, {
    timeoutMs: options.timeoutMs ?? FOUR_LETTER_TIMEOUT_MS,
    signal: options.signal,
  });
}

const MODES: ReadonlySet<string> = new Set<ZooKeeperMode>(['standalone', 'leader', 'follower', 'observer']);

/**
 * The mode on the `Mode:` line of a `srvr` (or `stat`) answer; undefined when there is none ("This
 * ZooKeeper instance is not currently serving requests") or it names another mode (`read-only`). Pure.
 */
export function parseZooKeeperMode(srvrAnswer: string): ZooKeeperMode | undefined {
  const mode = /^Mode: (\S+)/m.exec(srvrAnswer)?.[1];
  return mode !== undefined && MODES.has(mode) ? (mode as ZooKeeperMode) : undefined;
}

/**
 * The mode the member at `host:port` reports with `srvr` now; undefined when it does not serve or does
 * not answer within the deadline (refused, unreachable, aborted). Rejects only on a programming error
 * (an invalid port).
 */
export async function zooKeeperMode(
  host: string,
  port: number,
  options: FourLetterOptions = {},
): Promise<ZooKeeperMode | undefined> {
  try {
    return parseZooKeeperMode(await fourLetterWord(host, port, 'srvr', options));
  } catch (error: unknown) {
    // No answer is an answer here: the member is unreachable or not serving, which callers act on.
    if (error instanceof TcpExchangeError) return undefined;
    throw error;
  }
}
