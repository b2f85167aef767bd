/**
 * HAProxy's Runtime API over its admin socket (`stats socket ... level admin`): one exchange per call,
 * several commands separated by `;` in one line, as HAProxy accepts them. Only what the owner map needs:
 * the servers of a backend with their addresses, and map edits.
 */
import { tcpExchange } from './tcp-exchange.ts';

/** Where the admin socket listens (a TCP socket on loopback inside the HAProxy pod or machine). */
export interface RuntimeAddress {
  host: string;
  port: number;
}

/** One server slot of a backend: its name and, when it has one, its address. */
export interface RuntimeServer {
  name: string;
  /** `ip:port`, or undefined for a slot without an address (a server-template slot not filled yet). */
  address: string | undefined;
}

/** Runs `commands` in one exchange and returns HAProxy's answer. */
export async function runtimeCommands(
  at: RuntimeAddress,
  commands: readonly string[],
  timeoutMs = 2000,
): Promise<string> {
  if (commands.length === 0) return '';
  return tcpExchange(at.host, at.port, `${commands.join('; ')}\n`, { timeoutMs });
}

/** The servers of `backend`, from `show servers state`. */
export async function backendServers(at: RuntimeAddress, backend: string): Promise<RuntimeServer[]> {
  return parseServersState(await runtimeCommands(at, [`show servers state ${backend}`]));
}

/**
 * Parses `show servers state`: a version line, a `#` header naming the columns, one line per server.
 * An address of `-` or `0.0.0.0` (no address yet) gives undefined.
 */
export function parseServersState(text: string): RuntimeServer[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines.find((l) => l.startsWith('#'));
  if (header === undefined) return [];
  const columns = header.slice(1).trim().split(/\s+/);
  const at = (name: string) => columns.indexOf(name);
  const [nameAt, addrAt, portAt] = [at('srv_name'), at('srv_addr'), at('srv_port')];
  return lines
    .filter((l) => !l.startsWith('#') && /^\d+ /.test(l))
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      const addr = fields[addrAt];
      const empty = addr === undefined || addr === '-' || addr === '0.0.0.0';
      return { name: fields[nameAt] ?? '', address: empty ? undefined : `${addr}:${fields[portAt]}` };
    });
}
