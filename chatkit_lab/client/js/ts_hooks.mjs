// chatkit-lab: TypeScript for a user's fetch file, through the pure-JavaScript transpiler
// `sucrase` (types are stripped, never checked). `fetch_runner.mjs` registers this file as a
// module hook, so a .ts fetch file and the .ts files it imports load as ES modules; an import
// written `./x` or `./x.js` from a .ts file also finds `./x.ts`.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const TS_FILE = /\.m?ts$/;

let sucrase = null;

export function transpile(source, file) {
  if (!sucrase) sucrase = createRequire(import.meta.url)('sucrase');
  return sucrase.transform(source, {
    transforms: ['typescript'], filePath: file, disableESTransforms: true,
  }).code;
}

function tsCandidates(specifier) {
  if (/\.m?js$/.test(specifier)) return [specifier.replace(/js$/, 'ts')];
  return [`${specifier}.ts`, `${specifier}/index.ts`];
}

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    const fromTs = context.parentURL && TS_FILE.test(new URL(context.parentURL).pathname);
    if (!fromTs || !/^\.{0,2}\//.test(specifier)) throw error;
    for (const candidate of tsCandidates(specifier)) {
      try {
        return await next(candidate, context);
      } catch {
        // try the next spelling
      }
    }
    throw error;
  }
}

export async function load(url, context, next) {
  if (url.startsWith('file:') && TS_FILE.test(new URL(url).pathname)) {
    const file = fileURLToPath(url);
    const source = transpile(await readFile(file, 'utf8'), file);
    return { format: 'module', source, shortCircuit: true };
  }
  return next(url, context);
}
