/**
 * Limits of the DistributedApp API that are derived from Kubernetes' own limits. Every number the
 * schema uses for a bound lives here so that the CRD, the docs and the operator agree.
 */

/** A DNS-1035 label (Service names, container names): at most 63 characters. */
export const DNS_LABEL_MAX_LENGTH = 63;

/**
 * Longest StatefulSet name whose pods still get a valid `controller-revision-hash` label: the label
 * value is `<statefulset>-<hash>` with a hash of up to 10 characters, and label values are <= 63.
 */
export const STATEFULSET_NAME_MAX_LENGTH = DNS_LABEL_MAX_LENGTH - 11;

/** Budget for the suffix a derived StatefulSet name may append to the app name (`-zookeeper` is 10). */
export const STATEFULSET_SUFFIX_BUDGET = 12;

/** Budget for the suffix a derived Service name may append to the app name (`-zookeeper-headless` is 19). */
export const SERVICE_SUFFIX_BUDGET = 23;

/**
 * Longest `metadata.name` of a DistributedApp: every derived name (`<name>-zookeeper-headless`,
 * `<name>-zookeeper-6`, the revision-hash label of each StatefulSet) stays within Kubernetes limits
 * as long as names.ts keeps its suffixes within the budgets above.
 */
export const APP_NAME_MAX_LENGTH = Math.min(
  STATEFULSET_NAME_MAX_LENGTH - STATEFULSET_SUFFIX_BUDGET,
  DNS_LABEL_MAX_LENGTH - SERVICE_SUFFIX_BUDGET,
);

/** Partition count bounds; the count is fixed at creation. */
export const PARTITIONS_MIN = 1;
export const PARTITIONS_MAX = 4096;

/** Longest list and map any field accepts (keeps the CEL cost estimate bounded). */
export const ENV_MAX_ITEMS = 64;
export const CONDITIONS_MAX_ITEMS = 16;
export const STATUS_MAP_MAX_PROPERTIES = PARTITIONS_MAX;

/** Longest image reference, URL and connect string. */
export const IMAGE_MAX_LENGTH = 512;
export const URL_MAX_LENGTH = 2048;
export const CONNECT_STRING_MAX_LENGTH = 1024;

/** ZooKeeper ensemble sizes that make sense: odd, so a majority survives (n-1)/2 failures. */
export const ZOOKEEPER_REPLICAS = [1, 3, 5, 7] as const;

/** Failure-policy durations, in seconds. */
export const REBALANCE_DELAY_MAX_SECONDS = 3600;
export const CRASH_LOOP_RESTART_MIN_SECONDS = 10;
export const CRASH_LOOP_RESTART_MAX_SECONDS = 86400;

/** The worker image tag that matches this release. */
export const CAPSTAN_VERSION = '0.1.0';
