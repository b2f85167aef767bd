import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import type { DistributedApp, HAProxySpec } from '../api/schema.ts';
import { selectorLabels } from './labels.ts';
import type { Desired } from './metadata.ts';
import { objectMeta } from './metadata.ts';
import { appNames } from './names.ts';
import { appIdentity } from './owner.ts';

/**
 * The app's front door: a Service of the type the spec asks (ClusterIP, NodePort or LoadBalancer) on the
 * spec's port, to HAProxy's public frontend only (the stats port stays private). A node port is set only
 * when the spec names one; otherwise Kubernetes allocates it and server-side apply leaves it alone.
 */
export function haproxyService(app: DistributedApp, haproxy: HAProxySpec): Desired<V1Service> {
  const { type, port, nodePort } = haproxy.service;
  const servicePort: V1ServicePort = { name: 'http', port, targetPort: 'http', protocol: 'TCP' };
  if (nodePort !== undefined && type !== 'ClusterIP') servicePort.nodePort = nodePort;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: objectMeta(app, 'haproxy', appNames(appIdentity(app).name).haproxy, haproxy.image),
    spec: {
      type,
      selector: selectorLabels(app, 'haproxy'),
      ports: [servicePort],
    },
  };
}
