import { createHash } from 'node:crypto';

/** Pod-template annotation holding the checksum of the component's rendered configuration. */
export const CONFIG_CHECKSUM_ANNOTATION = 'capstan.dev/config-checksum';

/** Annotation on a DistributedApp (and copied to the worker pod template) that rolls the workers. */
export const RESTARTED_AT_ANNOTATION = 'capstan.dev/restartedAt';

/** Hex sha256 of `content`: the same text always gives the same checksum. */
export function checksum(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/**
 * The pod-template annotation carrying the checksum of a component's rendered config files, so that a
 * config change changes the template and rolls the component. Files are hashed in name order.
 */
export function configChecksumAnnotation(files: Record<string, string>): Record<string, string> {
  const text = Object.keys(files)
    .sort()
    .map((name) => `${name}\n${files[name]}`)
    .join('\n');
  return { [CONFIG_CHECKSUM_ANNOTATION]: checksum(text) };
}
