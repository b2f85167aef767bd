import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the certificates and keys a local control plane needs. */
export interface Pki {
  caCert: string;
  caKey: string;
  apiserverCert: string;
  apiserverKey: string;
  adminCert: string;
  adminKey: string;
  /** RSA key pair that signs and verifies service-account tokens. */
  serviceAccountKey: string;
  serviceAccountPub: string;
}

/** Where {@link createPki} puts each file under `dir`. */
export function pkiPaths(dir: string): Pki {
  const p = (f: string): string => join(dir, f);
  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    apiserverCert: p('apiserver.crt'),
    apiserverKey: p('apiserver.key'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    serviceAccountKey: p('sa.key'),
    serviceAccountPub: p('sa.pub'),
  };
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

interface Leaf {
  cert: string;
  key: string;
  subject: string;
  extensions: string;
}

async function signLeaf(pki: Pki, leaf: Leaf): Promise<void> {
  const csr = `${leaf.cert}.csr`;
  const ext = `${leaf.cert}.ext`;
  await openssl(['genrsa', '-out', leaf.key, '2048']);
  await openssl(['req', '-new', '-key', leaf.key, '-subj', leaf.subject, '-out', csr]);
  await writeFile(ext, leaf.extensions);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    pki.caCert,
    '-CAkey',
    pki.caKey,
    '-CAcreateserial',
    '-days',
    '30',
    '-out',
    leaf.cert,
    '-extfile',
    ext,
  ]);
}

/**
 * Creates a throw-away CA, an apiserver serving certificate for 127.0.0.1/localhost, the
 * in-cluster service names and `extraIps`, an admin client certificate (group system:masters) and
 * the service-account signing key pair, all under `dir`. Uses the openssl command.
 */
export async function createPki(dir: string, extraIps: string[] = []): Promise<Pki> {
  await mkdir(dir, { recursive: true });
  const pki = pkiPaths(dir);
  await openssl(['genrsa', '-out', pki.caKey, '2048']);
  await openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    pki.caKey,
    '-subj',
    '/CN=capstan-local-ca',
    '-days',
    '30',
    '-out',
    pki.caCert,
  ]);
  const sans = [
    'IP:127.0.0.1',
    'IP:10.96.0.1',
    ...extraIps.map((ip) => `IP:${ip}`),
    'DNS:localhost',
    'DNS:kubernetes',
    'DNS:kubernetes.default',
    'DNS:kubernetes.default.svc',
    'DNS:kubernetes.default.svc.cluster.local',
  ].join(',');
  await signLeaf(pki, {
    cert: pki.apiserverCert,
    key: pki.apiserverKey,
    subject: '/CN=kube-apiserver',
    extensions: `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`,
  });
  await signLeaf(pki, {
    cert: pki.adminCert,
    key: pki.adminKey,
    subject: '/O=system:masters/CN=admin',
    extensions: 'extendedKeyUsage=clientAuth\n',
  });
  await openssl(['genrsa', '-out', pki.serviceAccountKey, '2048']);
  await openssl(['rsa', '-in', pki.serviceAccountKey, '-pubout', '-out', pki.serviceAccountPub]);
  return pki;
}

/** A client certificate and key for one cluster identity, signed by the local CA. */
export interface ClientCert {
  cert: string;
  key: string;
}

/**
 * Signs a client certificate for `user` (the CN) in `groups` (O=), as the kubelets
 * (system:node:NAME in system:nodes), kube-proxy (system:kube-proxy) and CoreDNS authenticate.
 */
export async function createClientCert(
  pki: Pki,
  file: string,
  identity: { user: string; groups?: string[] },
): Promise<ClientCert> {
  const dir = dirname(pki.caCert);
  const leaf = { cert: join(dir, `${file}.crt`), key: join(dir, `${file}.key`) };
  const subject = [...(identity.groups ?? []).map((g) => `/O=${g}`), `/CN=${identity.user}`].join('');
  await signLeaf(pki, { ...leaf, subject, extensions: 'extendedKeyUsage=clientAuth\n' });
  return leaf;
}
