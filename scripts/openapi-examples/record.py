"""Records the OpenAPI document's examples from a real `provost serve`, and checks them.

record URL TOKENS REQUESTS OUT: sends each request of REQUESTS (a JSON list, in order) to the
    server at URL and writes OUT: the concrete request and the answer, for every operation.
    Each request names its operation (`"op": "post /api/v1/roles"`), its parameters by name
    (`params`: path and query alike, as the document declares them), a JSON `body` or a
    multipart `form`, the user it is sent as (`as`, a key of the TOKENS JSON file; `admin` by
    default), the status it must get (`expect`; any 2xx by default), and values to keep from the
    answer for later requests (`save`: {"name": "dotted.path"}, used as `${name}`).
    `"component": "BadRequest"` records a shared error answer instead of an operation's.
check URL EXAMPLES: validates every example in the served document against its schema.
"""

import copy
import datetime
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid

METHODS = ("get", "post", "put", "patch", "delete")
# Lists in answers are cut to this many items: an example shows the shape, not every row.
MAX_ITEMS = 3


def fetch(url, method="GET", headers=None, data=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.headers.get("content-type", ""), answer.read()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get("content-type", ""), answer.read()


def substitute(value, saved):
    if isinstance(value, str):
        for name, got in saved.items():
            if value == "${" + name + "}":
                return got
            value = value.replace("${" + name + "}", str(got))
        return value
    if isinstance(value, list):
        return [substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, saved) for k, v in value.items()}
    return value


def dig(value, path):
    """`a.0.b`, or `a.0.url?name`: the query parameter `name` of the URL found there."""
    path, _, query_name = path.partition("?")
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    if query_name:
        value = urllib.parse.parse_qs(urllib.parse.urlparse(value).query)[query_name][0]
        value = int(value) if value.isdigit() else value
    return value


def trim(value):
    if isinstance(value, list):
        return [trim(v) for v in value[:MAX_ITEMS]]
    if isinstance(value, dict):
        return {k: trim(v) for k, v in value.items()}
    return value


def record(base, tokens_file, requests_file, out_file):
    tokens = json.load(open(tokens_file))
    doc = json.loads(fetch(base + "/api/v1/openapi.json")[2])
    saved, out, failures = {"today": datetime.date.today().isoformat()}, [], []
    for entry in json.load(open(requests_file)):
        entry = substitute(entry, saved)
        component = entry.get("component")
        if component:
            method, path = entry.get("method", "get"), entry["path"]
        else:
            method, path = entry["op"].split(" ", 1)
        operation = {} if component else doc["paths"][path][method]
        params = entry.get("params", {})
        declared = {p["name"] for p in operation.get("parameters", [])}
        if set(params) - declared:
            failures.append(f"{entry['op']}: undeclared parameters {sorted(set(params) - declared)}")
            continue
        query = {}
        concrete = path
        for p in operation.get("parameters", []):
            if p["name"] not in params:
                continue
            value = params[p["name"]]
            text = json.dumps(value) if isinstance(value, bool) else str(value)
            if p["in"] == "path":
                concrete = concrete.replace("{" + p["name"] + "}", urllib.parse.quote(text, safe=""))
            elif isinstance(value, list):
                # An array parameter (style form, explode): the name once for each value.
                query[p["name"]] = [str(v) for v in value]
            else:
                query[p["name"]] = text
        url = base + concrete + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        headers = dict(entry.get("headers", {}))
        who = entry.get("as", "admin")
        if who:
            headers.setdefault("Authorization", "Bearer " + tokens[who])
        data = None
        if "body" in entry:
            data = json.dumps(entry["body"]).encode()
            headers.setdefault("Content-Type", "application/json")
        elif "form" in entry:
            boundary = uuid.uuid4().hex
            parts = []
            for name, text in entry["form"].items():
                parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                             f'filename="{name}.csv"\r\nContent-Type: text/csv\r\n\r\n{text}\r\n')
            data = ("".join(parts) + f"--{boundary}--\r\n").encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        status, content_type, raw = fetch(url, method.upper(), headers, data)
        expected = entry.get("expect")
        if (expected is not None and status != expected) or (expected is None and not 200 <= status < 300):
            failures.append(f"{entry.get('op', component)}: {status} {raw[:300]!r}")
            continue
        if "json" in content_type:
            body = json.loads(raw)
        else:
            # Text answers (a page, metrics, a report): their first lines.
            body = "\n".join(raw.decode().splitlines()[:12]) + "\n"
        for name, where in entry.get("save", {}).items():
            saved[name] = dig(body, where)
        if entry.get("skip"):
            continue
        item = {"op": entry["op"] if not component else "component " + component}
        if params:
            item["params"] = params
        if "body" in entry:
            item["body"] = entry["body"]
        if "form" in entry:
            item["body"] = entry["form"]
        item["status"] = status
        item["response"] = entry.get("fixed", trim(body))
        out.append(item)
    if failures:
        sys.exit("requests that did not get their status:\n  " + "\n  ".join(failures))
    with open(out_file, "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"recorded {len(out)} examples into {out_file}")


def check(base):
    # schemathesis's own validator, so the check needs nothing it does not install.
    import jsonschema_rs

    doc = json.loads(fetch(base + "/api/v1/openapi.json")[2])
    problems = []

    def validate(where, schema, value):
        if schema is None:
            return
        root = copy.deepcopy(schema)
        root["components"] = doc.get("components", {})
        for error in jsonschema_rs.Draft202012Validator(root).iter_errors(value):
            problems.append(f"{where}: {error.message}")

    for name, response in doc.get("components", {}).get("responses", {}).items():
        for media, content in response.get("content", {}).items():
            if "example" in content:
                validate(f"components.responses.{name}", content.get("schema"), content["example"])
    checked = 0
    for path, item in doc["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if not operation:
                continue
            op = f"{method} {path}"
            for p in operation.get("parameters", []):
                if "example" in p:
                    validate(f"{op} parameter {p['name']}", p.get("schema"), p["example"])
                    checked += 1
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                if "example" in content and "json" in media:
                    validate(f"{op} request", content.get("schema"), content["example"])
                    checked += 1
            for status, response in operation.get("responses", {}).items():
                for media, content in response.get("content", {}).items():
                    if "example" in content and "json" in media:
                        validate(f"{op} {status}", content.get("schema"), content["example"])
                        checked += 1
    if problems:
        sys.exit("examples that do not fit their schemas:\n  " + "\n  ".join(problems))
    print(f"{checked} examples fit their schemas")


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(*sys.argv[2:6])
    elif sys.argv[1] == "check":
        check(sys.argv[2])
    else:
        sys.exit(__doc__)
