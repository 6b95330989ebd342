// Validates the custom resources check.py collected (ServiceMonitor, PrometheusRule) against
// prometheus-operator's CRD schemas, as packaged in @kubernetes-models/prometheus-operator.
//   node validate-crds.mjs MODELS_DIR CRDS_JSON
// MODELS_DIR is the npm prefix the package is installed under (scripts/test-deploy).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modelsDir, crdsFile] = process.argv.slice(2);
if (!modelsDir || !crdsFile) {
  console.error("usage: node validate-crds.mjs MODELS_DIR CRDS_JSON");
  process.exit(2);
}
const models = join(modelsDir, "node_modules/@kubernetes-models/prometheus-operator");

async function model(apiVersion, kind) {
  const [group, version] = apiVersion.split("/");
  const module = await import(pathToFileURL(join(models, group, version, `${kind}.js`)).href);
  return module[kind];
}

let failed = 0;
let checked = 0;
for (const { where, object } of JSON.parse(readFileSync(crdsFile, "utf8"))) {
  const Model = await model(object.apiVersion, object.kind);
  try {
    new Model(object).validate();
    checked += 1;
  } catch (error) {
    failed += 1;
    console.error(`FAIL ${where}: ${error.message}`);
  }
}
if (checked + failed === 0) {
  console.error("FAIL no custom resource was rendered: expected a ServiceMonitor and a PrometheusRule");
  process.exit(1);
}
console.log(`  ${checked} custom resources valid, ${failed} invalid`);
process.exit(failed ? 1 : 0);
