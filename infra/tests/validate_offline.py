#!/usr/bin/env python3
"""Offline validation of what cannot run here (no terraform binary, no Kubernetes cluster).

* Every .tf file under infra/terraform parses (python-hcl2); every variable has a description and
  a type; every local module source exists; every module call passes the target's required
  variables and nothing it does not declare.
* checkov (static policy checks for terraform) passes on infra/terraform.
* The Kubernetes manifests: standard kinds against the official schemas (kubernetes-validate,
  strict: unknown fields fail); the Agones Fleet against the fields this repository relies on.

Exit status 0 when everything validates; otherwise every problem is printed and the status is 1.
What is NOT validated: provider schemas (vultr, local) and `terraform plan` need the terraform
binary and the providers' downloads; the inventory template's output needs terraform's
templatefile (its shape is the one `meridian-anycast render` parses, kept in step by hand).
"""
import glob
import os
import re
import subprocess
import sys

import hcl2
import yaml

def tool(name):
    """A CLI of the environment this interpreter runs in (the setup's venv), else from PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.path.exists(beside) else name


ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TERRAFORM = os.path.join(ROOT, "infra", "terraform")
K8S = os.path.join(ROOT, "infra", "k8s")
problems = []


def load_tf(directory):
    merged = {"variable": [], "module": []}
    for path in sorted(glob.glob(os.path.join(directory, "*.tf"))):
        with open(path) as handle:
            try:
                doc = hcl2.load(handle)
            except Exception as error:  # the parser's own error types vary by version
                problems.append(f"{os.path.relpath(path, ROOT)}: does not parse: {error}")
                continue
        for key in merged:
            merged[key].extend(doc.get(key, []))
    return merged


def unquote(value):
    """python-hcl2 7.x keeps the quotes of string literals and block labels; the 0.4 series that
    checkov pins wraps attribute values in one-element lists. Either way: the bare value."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip('"') if isinstance(value, str) else value


def variables(doc):
    out = {}
    for block in doc["variable"]:
        for name, body in block.items():
            out[unquote(name)] = body
    return out


modules = sorted({os.path.normpath(os.path.dirname(p)) for p in glob.glob(os.path.join(TERRAFORM, "**", "*.tf"), recursive=True)})
parsed = {directory: load_tf(directory) for directory in modules}
for directory, doc in parsed.items():
    rel = os.path.relpath(directory, ROOT)
    for name, body in variables(doc).items():
        if not body.get("description"):
            problems.append(f"{rel}: variable {name} has no description")
        if "type" not in body:
            problems.append(f"{rel}: variable {name} has no type")
    for block in doc["module"]:
        for call, body in block.items():
            call = unquote(call)
            source = unquote(body.get("source", ""))
            target = os.path.normpath(os.path.join(directory, source))
            if not source.startswith(".") or target not in parsed:
                problems.append(f"{rel}: module {call}: source {source!r} is not a module of this repository")
                continue
            declared = variables(parsed[target])
            passed = {key for key in body if not key.startswith("__") and key not in ("source", "version", "providers", "count", "for_each", "depends_on")}
            for key in sorted(passed - declared.keys()):
                problems.append(f"{rel}: module {call} passes {key}, which {source} does not declare")
            for key, var in declared.items():
                if "default" not in var and key not in passed:
                    problems.append(f"{rel}: module {call} does not pass required variable {key}")
print(f"terraform: {len(modules)} directories parsed")

try:
    # --skip-download: no policy download from the vendor's API (offline). checkov exits 0 on parse
    # errors, so its summary line is read: parse errors and failed checks both fail here. (It has
    # no policies for the vultr provider: for these files it is a second parser and the generic
    # checks.)
    result = subprocess.run(
        [tool("checkov"), "--compact", "--framework", "terraform", "--skip-download", "-d", TERRAFORM],
        capture_output=True, text=True, timeout=600,
    )
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)(?:, Parsing errors: (\d+))?", result.stdout)
    if result.returncode != 0:
        problems.append(f"checkov failed: {result.stdout[-2000:]} {result.stderr[-2000:]}")
    elif summary is None:
        # checkov prints no summary when no policy applied and nothing failed to parse.
        print("checkov: no policy applies to these resources; no parse errors")
    else:
        passed, failed, _, parse_errors = (int(x or 0) for x in summary.groups())
        print(f"checkov: {passed} passed, {failed} failed, {parse_errors} parse errors")
        if failed or parse_errors:
            problems.append(f"checkov: {failed} failed checks, {parse_errors} parse errors:\n{result.stdout[-3000:]}")
except FileNotFoundError:
    problems.append("checkov is not installed: run infra/setup.sh")

FLEET_REQUIRED = {
    ("spec", "template", "spec", "ports"),
    ("spec", "template", "spec", "template", "spec", "containers"),
}
for path in sorted(glob.glob(os.path.join(K8S, "*.yaml"))):
    rel = os.path.relpath(path, ROOT)
    with open(path) as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc]
    for doc in documents:
        kind = doc.get("kind")
        if doc.get("apiVersion", "").startswith("agones.dev/"):
            for keys in FLEET_REQUIRED:
                node = doc
                for key in keys:
                    node = node.get(key) if isinstance(node, dict) else None
                if not node:
                    problems.append(f"{rel}: {kind} lacks {'.'.join(keys)}")
            for port in doc["spec"]["template"]["spec"].get("ports", []):
                if port.get("portPolicy") not in ("Dynamic", "Static", "Passthrough", "None"):
                    problems.append(f"{rel}: {kind} port {port.get('name')}: bad portPolicy")
            continue
        single = os.path.join("/tmp", f"meridian-k8s-{os.getpid()}.yaml")
        with open(single, "w") as out:
            yaml.safe_dump(doc, out)
        result = subprocess.run(
            [tool("kubernetes-validate"), "--strict", "--kubernetes-version", "1.30.0", single],
            capture_output=True, text=True,
        )
        os.unlink(single)
        if result.returncode != 0:
            problems.append(f"{rel}: {kind} {doc['metadata']['name']}: {result.stdout.strip()} {result.stderr.strip()}")
        else:
            print(f"k8s: {rel}: {kind} {doc['metadata']['name']} valid")

if problems:
    print("\n".join(f"PROBLEM: {p}" for p in problems))
    sys.exit(1)
print("offline validation: all good")
