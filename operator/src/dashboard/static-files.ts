/**
 * The page's static files (HTML, CSS, one JS module; no build step), read once at start from
 * `static/` next to this file and served from memory.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file: its bytes and media type. */
export interface StaticFile {
  readonly body: Buffer;
  readonly contentType: string;
}

/** The files by URL path. */
export type StaticFiles = ReadonlyMap<string, StaticFile>;

const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), 'static');

const FILES: readonly (readonly [url: string, file: string, contentType: string])[] = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/static/style.css', 'style.css', 'text/css; charset=utf-8'],
  ['/static/app.js', 'app.js', 'text/javascript; charset=utf-8'],
];

/** Reads the files; throws when one is missing (a broken install should not start half a dashboard). */
export function loadStaticFiles(dir: string = STATIC_DIR): StaticFiles {
  return new Map(
    FILES.map(([url, file, contentType]) => [url, { body: readFileSync(join(dir, file)), contentType }]),
  );
}
