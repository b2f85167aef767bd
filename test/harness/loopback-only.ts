/**
 * Preloaded into a process a test starts on this host (`node --import=<this file> ...`) that must reach
 * nothing but loopback: name lookups (`dns.lookup`, which `net`, `tls` and undici use) answer `localhost`
 * alone, any other name fails with ENOTFOUND before a query leaves the process; a TCP or TLS socket asked to
 * connect to an IP address that is not loopback is destroyed with EACCES before it sends anything. So an
 * operator that coordinates an in-cluster app from the test host cannot ask the machine's resolver for the
 * app's cluster DNS names, nor probe its pods' addresses. Unix sockets are left alone.
 */
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';

function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

function refused(code: string, syscall: string, what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${syscall} ${code} ${what} (this test process reaches loopback only)`), {
    code,
    syscall,
  });
}

type LookupCallback = (error: NodeJS.ErrnoException | null, ...results: unknown[]) => void;

const lookup = dns.lookup;
/** Names answered: `localhost` and loopback addresses. */
function allowed(hostname: string): boolean {
  return hostname === 'localhost' || (net.isIP(hostname) !== 0 && isLoopback(hostname));
}

const guardedLookup = (hostname: string, ...rest: unknown[]): void => {
  if (allowed(hostname)) {
    Reflect.apply(lookup, dns, [hostname, ...rest]);
    return;
  }
  const callback = rest.at(-1) as LookupCallback;
  process.nextTick(callback, refused('ENOTFOUND', 'getaddrinfo', hostname));
};
dns.lookup = guardedLookup as typeof dns.lookup;

const lookupPromise = dns.promises.lookup;
dns.promises.lookup = ((hostname: string, options?: unknown): Promise<unknown> =>
  allowed(hostname)
    ? (Reflect.apply(lookupPromise, dns.promises, [hostname, options]) as Promise<unknown>)
    : Promise.reject(refused('ENOTFOUND', 'getaddrinfo', hostname))) as typeof dns.promises.lookup;

/** The host a `Socket.connect` call names: `(options)`, `([options, cb])` as `net.connect` passes it, or `(port, host)`. */
function hostOf(args: unknown[]): string | undefined {
  const [first, second] = args;
  const options: unknown = Array.isArray(first) ? first[0] : first;
  if (options !== null && typeof options === 'object') return (options as { host?: string }).host;
  return typeof second === 'string' ? second : undefined;
}

const connect = net.Socket.prototype.connect as (this: net.Socket, ...args: unknown[]) => net.Socket;
function guardedConnect(this: net.Socket, ...args: unknown[]): net.Socket {
  const host = hostOf(args);
  if (host !== undefined && net.isIP(host) !== 0 && !isLoopback(host)) {
    process.nextTick(() => this.destroy(refused('EACCES', 'connect', host)));
    return this;
  }
  return connect.apply(this, args);
}
net.Socket.prototype.connect = guardedConnect;

syncBuiltinESMExports();
