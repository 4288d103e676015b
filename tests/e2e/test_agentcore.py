"""The AgentCore-compatible API driven by the real, unmodified clients: boto3's
`bedrock-agentcore` client and the `bedrock-agentcore` SDK's CodeInterpreter, pointed at
the daemon only through endpoint configuration and an Airlock key (its id as the access
key id, its secret as the secret key). SigV4 is verified. Real daemon, real sandboxes."""
import base64
import datetime
import json
import os
import subprocess
import sys
import time
import uuid
from unittest import mock

import pytest
from airlock_api import expect
from conftest import HOST, require

BUILTIN = "aws.codeinterpreter.v1"


@pytest.fixture(scope="module")
def key(client):
    return expect(client.post("/v1/keys", json={"tenant": "agentcore-t", "name": "boto3"}), 201).json


def make_client(daemon, key_id, secret, **kw):
    try:
        import boto3 as b3
        from botocore.config import Config
    except ImportError:
        require(False, "boto3 is not installed (pip install boto3)")
    return b3.client("bedrock-agentcore", region_name="us-east-1", endpoint_url="http://%s:%d" % (HOST, daemon.port),
                     aws_access_key_id=key_id, aws_secret_access_key=secret,
                     config=Config(retries={"max_attempts": 1}, read_timeout=300), **kw)


@pytest.fixture(scope="module")
def ac(daemon, key):
    return make_client(daemon, key["id"], key["secret"])


@pytest.fixture
def session(ac):
    sid = ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, name="e2e")["sessionId"]
    yield sid
    ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)


def invoke(ac, sid, name, **arguments):
    """The events of one invoke (each {"result": ...}); exactly one is expected."""
    r = ac.invoke_code_interpreter(codeInterpreterIdentifier=BUILTIN, sessionId=sid, name=name, arguments=arguments)
    assert r["sessionId"] == sid
    events = list(r["stream"])
    assert len(events) == 1 and list(events[0]) == ["result"], events
    return events[0]["result"]


def test_session_lifecycle_and_native_view(client, ac, key):
    started = ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, name="lifecycle",
                                                sessionTimeoutSeconds=1200)
    sid = started["sessionId"]
    assert started["codeInterpreterIdentifier"] == BUILTIN and len(sid) == 26 and sid.isalnum()
    # The same session, seen through the native API by the key's tenant (bearer token).
    native = expect(client.with_key(key["token"]).get("/v1/sessions/sess_" + sid), 200).json
    assert (native["interpreter"], native["tenant"], native["metadata"]["agentcore.name"]) == \
        ("default", "agentcore-t", "lifecycle")
    got = ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)
    assert (got["status"], got["name"], got["sessionTimeoutSeconds"]) == ("READY", "lifecycle", 1200)
    items = ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=100)["items"]
    assert sid in [i["sessionId"] for i in items]
    stopped = ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)
    assert stopped["sessionId"] == sid and isinstance(stopped["lastUpdatedAt"], datetime.datetime)
    assert ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)["status"] == "TERMINATED"
    assert sid not in [i["sessionId"] for i in
                       ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="READY")["items"]]
    done = ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="TERMINATED", maxResults=100)
    assert {"sessionId": sid, "status": "TERMINATED"}.items() <= \
        next(i for i in done["items"] if i["sessionId"] == sid).items()
    everything = ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=100)["items"]
    assert sid in [i["sessionId"] for i in everything]
    # Pages: one at a time, following nextToken, give the same sessions once each.
    seen, token = [], None
    while True:
        page = ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=1,
                                                 **({"nextToken": token} if token else {}))
        seen += [i["sessionId"] for i in page["items"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(i["sessionId"] for i in everything) and len(seen) == len(set(seen))
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        invoke(ac, sid, "executeCode", code="1")
    # The default TTL is 900 s.
    sid2 = ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN)["sessionId"]
    assert ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid2)[
        "sessionTimeoutSeconds"] == 900
    ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid2)


def test_client_token_makes_start_idempotent(ac):
    token = str(uuid.uuid4())
    a = ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, clientToken=token)["sessionId"]
    b = ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, clientToken=token)["sessionId"]
    assert a == b
    ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=a)


def test_execute_code_in_every_language_with_state(ac, session):
    r = invoke(ac, session, "executeCode", code="x = 41\nprint('Hello World!!!')", language="python")
    assert r["isError"] is False and r["content"][0] == {"type": "text", "text": "Hello World!!!\n"}
    sc = r["structuredContent"]
    assert (sc["stdout"], sc["stderr"], sc["exitCode"]) == ("Hello World!!!\n", "", 0) and sc["executionTime"] < 60
    assert invoke(ac, session, "executeCode", code="x + 1")["content"] == [{"type": "text", "text": "42"}]
    js = invoke(ac, session, "executeCode", code="console.log([1, 2].map(v => v * 2).join(','))",
                language="javascript")
    assert js["structuredContent"]["stdout"] == "2,4\n" and js["isError"] is False
    ts = invoke(ac, session, "executeCode", code="const n: number = 7; console.log(n * 6)", language="typescript",
                runtime="nodejs")
    assert ts["structuredContent"]["stdout"] == "42\n"
    cleared = invoke(ac, session, "executeCode", code="print('x' in globals())", language="python", clearContext=True)
    assert cleared["structuredContent"]["stdout"] == "False\n"


def test_user_code_failures_are_results_not_errors(ac, session):
    r = invoke(ac, session, "executeCode", code="def f():\n    raise ValueError('boom')\nf()")
    assert r["isError"] is True and r["structuredContent"]["exitCode"] == 1
    assert "ValueError: boom" in r["structuredContent"]["stderr"] and "<cell" in r["structuredContent"]["stderr"]
    assert any("ValueError: boom" in b.get("text", "") for b in r["content"])
    js = invoke(ac, session, "executeCode", code="throw new TypeError('nope')", language="javascript")
    assert js["isError"] is True and "TypeError: nope" in js["structuredContent"]["stderr"]


def test_commands_and_tasks(ac, session):
    r = invoke(ac, session, "executeCommand", command="echo 'Hello world!'; echo oops >&2")
    sc = r["structuredContent"]
    assert (sc["stdout"], sc["stderr"], sc["exitCode"], r["isError"]) == ("Hello world!\n", "oops\n", 0, False)
    failed = invoke(ac, session, "executeCommand", command="exit 3")
    assert failed["structuredContent"]["exitCode"] == 3 and failed["isError"] is True
    started = invoke(ac, session, "startCommandExecution", command="sleep 0.5 && echo complete")
    assert started["content"] == [{"type": "text", "text": "Successfully started a command execution task"}]
    task_id = started["structuredContent"]["taskId"]
    assert started["structuredContent"]["taskStatus"] == "submitted"
    deadline = time.monotonic() + 30
    while True:
        t = invoke(ac, session, "getTask", taskId=task_id)["structuredContent"]
        if t["taskStatus"] != "working" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert (t["taskStatus"], t["stdout"], t["exitCode"]) == ("completed", "complete\n", 0), t
    long = invoke(ac, session, "startCommandExecution", command="sleep 60")["structuredContent"]["taskId"]
    assert invoke(ac, session, "getTask", taskId=long)["structuredContent"]["taskStatus"] == "working"
    stopped = invoke(ac, session, "stopTask", taskId=long)
    assert stopped["content"] == [{"type": "text", "text": "Successfully canceled a command execution task"}]
    assert invoke(ac, session, "getTask", taskId=long)["structuredContent"]["taskStatus"] in ("canceled", "failed")
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        invoke(ac, session, "getTask", taskId="task_doesnotexist")


def test_files_write_list_read_remove(ac, session):
    blob = bytes(range(256))
    r = invoke(ac, session, "writeFiles", content=[{"path": "data.txt", "text": "pikachu"},
                                                   {"path": "dir/raw.bin", "blob": blob}])
    assert r == {"content": [{"type": "text", "text": "Successfully wrote all 2 files"}], "isError": False}
    for args in ({"path": ""}, {"directoryPath": "."}, {"path": "/workspace"}):
        listing = invoke(ac, session, "listFiles", **args)["content"]
        by_name = {b["name"]: b for b in listing}
        assert by_name["dir"]["description"] == "Directory" and "mimeType" not in by_name["dir"], args
        assert by_name["data.txt"] == {"type": "resource_link", "uri": "file:///data.txt", "name": "data.txt",
                                       "description": "File", "mimeType": "text/plain", "size": 7}
    inner = invoke(ac, session, "listFiles", directoryPath="dir")["content"]
    assert [b["uri"] for b in inner] == ["file:///dir/raw.bin"]
    got = invoke(ac, session, "readFiles", paths=["data.txt", "dir/raw.bin"])["content"]
    assert got[0]["resource"] == {"type": "text", "uri": "file:///data.txt", "mimeType": "text/plain", "text": "pikachu"}
    assert got[1]["resource"]["blob"] == blob  # botocore decodes the base64
    # Code in the session sees the same files.
    assert invoke(ac, session, "executeCode", code="print(open('data.txt').read())")["structuredContent"][
        "stdout"] == "pikachu\n"
    missing = invoke(ac, session, "readFiles", paths=["nope.txt"])
    assert missing["isError"] is True and "nope.txt" in missing["content"][0]["text"]
    removed = invoke(ac, session, "removeFiles", paths=["data.txt", "dir"])
    assert removed["content"] == [{"type": "text", "text": "Successfully removed all 2 files"}]
    assert invoke(ac, session, "listFiles", path="")["content"] == []
    escape = invoke(ac, session, "readFiles", paths=["../../etc/passwd", "/etc/passwd"])
    assert escape["isError"] is True and all("Invalid path" in b["text"] for b in escape["content"])


def test_a_matplotlib_plot_comes_back_as_an_image_block(ac, session):
    r = invoke(ac, session, "executeCode", code="import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\n"
                                                "plt.title('squares')\nplt.show()")
    images = [b for b in r["content"] if b["type"] == "image"]
    assert len(images) == 1 and images[0]["mimeType"] == "image/png"
    data = images[0]["data"]
    png = data if isinstance(data, bytes) else base64.b64decode(data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR" and png[-8:-4] == b"IEND"


def test_validation_and_not_found_errors(ac, session):
    with pytest.raises(ac.exceptions.ValidationException):
        ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionTimeoutSeconds=30000)
    with pytest.raises(ac.exceptions.ValidationException):
        ac.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, name="n" * 101)
    with pytest.raises(ac.exceptions.ValidationException):
        invoke(ac, session, "executeCode", code="1", language="ruby")
    with pytest.raises(ac.exceptions.ValidationException):
        invoke(ac, session, "executeCode", code="1", runtime="jvm")
    with pytest.raises(ac.exceptions.ValidationException):
        invoke(ac, session, "executeCode")
    with pytest.raises(ac.exceptions.ValidationException):
        ac.invoke_code_interpreter(codeInterpreterIdentifier=BUILTIN, sessionId=session, name="launchRockets",
                                   arguments={})
    with pytest.raises(ac.exceptions.ValidationException):
        invoke(ac, session, "writeFiles", content=[{"path": "a.txt"}])
    with pytest.raises(ac.exceptions.ValidationException):
        ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, maxResults=500)
    with pytest.raises(ac.exceptions.ValidationException):
        ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN, status="SLEEPING")
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="0" * 26)
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="NotOneOfOurs")
    for bad in ("has-dash", "x" * 41):
        with pytest.raises(ac.exceptions.ValidationException):
            ac.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=bad)
        with pytest.raises(ac.exceptions.ValidationException):
            ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=bad)
        with pytest.raises(ac.exceptions.ValidationException):
            invoke(ac, bad, "executeCode", code="1")
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        ac.start_code_interpreter_session(codeInterpreterIdentifier="no_such_interpreter-abcdefghij")
    with pytest.raises(ac.exceptions.ResourceNotFoundException):
        ac.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId="1" * 26)


def test_signatures_are_verified(client, daemon, ac, key, session):
    wrong = make_client(daemon, key["id"], key["secret"][:-1] + ("a" if key["secret"][-1] != "a" else "b"))
    with pytest.raises(wrong.exceptions.AccessDeniedException, match="signature"):
        wrong.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    unknown = make_client(daemon, "ak_" + "x" * 26, key["secret"])
    with pytest.raises(unknown.exceptions.AccessDeniedException):
        unknown.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    import boto3 as b3
    from botocore import UNSIGNED
    from botocore.config import Config
    anon = b3.client("bedrock-agentcore", region_name="us-east-1", endpoint_url="http://%s:%d" % (HOST, daemon.port),
                     config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))
    with pytest.raises(anon.exceptions.AccessDeniedException, match="Missing Authentication Token"):
        anon.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    # A request signed 20 minutes ago is refused (clock skew over 15 minutes).
    past = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    with mock.patch("botocore.auth.get_current_datetime", return_value=past):
        with pytest.raises(ac.exceptions.AccessDeniedException, match="expired"):
            ac.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    # Another tenant's key cannot see or use this tenant's session.
    other = expect(client.post("/v1/keys", json={"tenant": "agentcore-other"}), 201).json
    oc = make_client(daemon, other["id"], other["secret"])
    with pytest.raises(oc.exceptions.ResourceNotFoundException):
        oc.invoke_code_interpreter(codeInterpreterIdentifier=BUILTIN, sessionId=session, name="executeCode",
                                   arguments={"code": "1"})
    with pytest.raises(oc.exceptions.ResourceNotFoundException):
        oc.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=session)
    # A revoked key is refused at once.
    gone = expect(client.post("/v1/keys", json={"tenant": "agentcore-t"}), 201).json
    gc = make_client(daemon, gone["id"], gone["secret"])
    gc.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    expect(client.delete("/v1/keys/" + gone["id"]), 200)
    with pytest.raises(gc.exceptions.AccessDeniedException):
        gc.list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)


SDK_SCRIPT = r'''
import json, sys
from bedrock_agentcore.tools.code_interpreter_client import CodeInterpreter, code_session
out = {}
with code_session("us-east-1") as ci:
    r = ci.execute_code("import sys\nprint(sys.version_info[0])")
    out["execute"] = [e["result"]["structuredContent"]["stdout"] for e in r["stream"]]
    ci.upload_file("notes/hello.txt", "hi from the sdk")
    ci.upload_file("raw.bin", b"\x00\xffbinary")
    out["download"] = ci.download_file("notes/hello.txt")
    out["download_bin"] = repr(ci.download_file("raw.bin"))
    r = ci.execute_command("cat notes/hello.txt")
    out["command"] = [e["result"]["structuredContent"]["stdout"] for e in r["stream"]]
    out["sessions"] = [s["sessionId"] for s in ci.list_sessions(status="READY")["items"]]
    out["session_id"] = ci.session_id
ci = CodeInterpreter("us-east-1")
ci.start(name="second")
out["status"] = ci.get_session()["status"]
ci.stop()
print(json.dumps(out))
'''


def test_the_bedrock_agentcore_sdk_unchanged(daemon, key):
    try:
        import bedrock_agentcore  # noqa: F401
    except ImportError:
        require(False, "the bedrock-agentcore SDK is not installed (pip install bedrock-agentcore)")
    url = "http://%s:%d" % (HOST, daemon.port)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key["id"], AWS_SECRET_ACCESS_KEY=key["secret"], AWS_REGION="us-east-1",
               BEDROCK_AGENTCORE_DP_ENDPOINT=url, BEDROCK_AGENTCORE_CP_ENDPOINT=url)
    env.pop("AWS_SESSION_TOKEN", None)
    p = subprocess.run([sys.executable, "-c", SDK_SCRIPT], env=env, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert out["execute"] == ["3\n"]
    assert out["download"] == "hi from the sdk"
    assert "binary" in out["download_bin"]
    assert out["command"] == ["hi from the sdk"]
    assert out["session_id"] in out["sessions"]
    assert out["status"] == "READY"


@pytest.fixture(scope="module")
def admin_key(client):
    return expect(client.post("/v1/keys", json={"tenant": "agentcore-t", "name": "control",
                                                "scopes": ["admin", "sessions"]}), 201).json


def control_client(daemon, key_id, secret):
    import boto3 as b3
    from botocore.config import Config
    return b3.client("bedrock-agentcore-control", region_name="eu-west-1",
                     endpoint_url="http://%s:%d" % (HOST, daemon.port), aws_access_key_id=key_id,
                     aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def test_control_plane_on_airlock_interpreters(client, daemon, admin_key, key):
    cp = control_client(daemon, admin_key["id"], admin_key["secret"])
    made = cp.create_code_interpreter(name="ac_sandboxed", description="made through boto3",
                                      executionRoleArn="arn:aws:iam::123456789012:role/ignored",
                                      networkConfiguration={"networkMode": "SANDBOX"})
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 202 and made["status"] == "READY"
    cid = made["codeInterpreterId"]
    assert cid.startswith("ac_sandboxed-") and len(cid) == len("ac_sandboxed-") + 10
    assert made["codeInterpreterArn"].startswith("arn:aws:bedrock-agentcore:eu-west-1:")
    assert made["codeInterpreterArn"].endswith(":code-interpreter-custom/" + cid)
    got = cp.get_code_interpreter(codeInterpreterId=cid)
    assert (got["name"], got["status"], got["networkConfiguration"]) == ("ac_sandboxed", "READY",
                                                                          {"networkMode": "SANDBOX"})
    assert got["description"] == "made through boto3"
    # The same object through the native API.
    native = expect(client.with_key(admin_key["token"]).get("/v1/interpreters/ac_sandboxed"), 200).json
    assert native["agentcore_id"] == cid and native["network"]["mode"] == "none"
    custom = cp.list_code_interpreters(type="CUSTOM")["codeInterpreterSummaries"]
    assert cid in [c["codeInterpreterId"] for c in custom]
    system = cp.list_code_interpreters(type="SYSTEM")["codeInterpreterSummaries"]
    assert [c["codeInterpreterId"] for c in system] == [BUILTIN]
    assert cp.get_code_interpreter(codeInterpreterId=BUILTIN)["networkConfiguration"] == {"networkMode": "SANDBOX"}
    page = cp.list_code_interpreters(maxResults=1)
    assert len(page["codeInterpreterSummaries"]) == 1 and page["nextToken"]
    # Sessions of it, through the data plane, by its id.
    dp = make_client(daemon, key["id"], key["secret"])
    sid = dp.start_code_interpreter_session(codeInterpreterIdentifier=cid)["sessionId"]
    r = dp.invoke_code_interpreter(codeInterpreterIdentifier=cid, sessionId=sid, name="executeCode",
                                   arguments={"code": "print(6 * 7)"})
    assert list(r["stream"])[0]["result"]["structuredContent"]["stdout"] == "42\n"
    assert expect(client.with_key(key["token"]).get("/v1/sessions/sess_" + sid), 200).json["interpreter"] == \
        "ac_sandboxed"
    with pytest.raises(dp.exceptions.ResourceNotFoundException):  # not a session of the built-in one
        dp.get_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)
    with pytest.raises(cp.exceptions.ConflictException):
        cp.delete_code_interpreter(codeInterpreterId=cid)  # in use
    dp.stop_code_interpreter_session(codeInterpreterIdentifier=cid, sessionId=sid)
    deleted = cp.delete_code_interpreter(codeInterpreterId=cid)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 202 and deleted["status"] == "DELETED"
    with pytest.raises(cp.exceptions.ResourceNotFoundException):
        cp.get_code_interpreter(codeInterpreterId=cid)
    with pytest.raises(cp.exceptions.ConflictException):
        cp.delete_code_interpreter(codeInterpreterId=BUILTIN)


def test_control_plane_public_network_mode(client, daemon, admin_key, key):
    """networkMode PUBLIC is Airlock's network mode public (docs/network.md): the interpreter
    says PUBLIC, and its sessions report, and have, that network."""
    require(os.access("/usr/bin/slirp4netns", os.X_OK) and os.path.exists("/dev/net/tun"),
            "network mode public needs slirp4netns (apt-get install slirp4netns) and /dev/net/tun")
    cp = control_client(daemon, admin_key["id"], admin_key["secret"])
    made = cp.create_code_interpreter(name="ac_public", networkConfiguration={"networkMode": "PUBLIC"})
    assert made["status"] == "READY"
    cid = made["codeInterpreterId"]
    assert cp.get_code_interpreter(codeInterpreterId=cid)["networkConfiguration"] == {"networkMode": "PUBLIC"}
    native = expect(client.with_key(admin_key["token"]).get("/v1/interpreters/ac_public"), 200).json
    assert native["network"]["mode"] == "public"
    dp = make_client(daemon, key["id"], key["secret"])
    sid = dp.start_code_interpreter_session(codeInterpreterIdentifier=cid)["sessionId"]
    try:
        got = expect(client.with_key(key["token"]).get("/v1/sessions/sess_" + sid), 200).json
        assert (got["interpreter"], got["isolation"]["network"]) == ("ac_public", "public")
        code = "import socket\nprint(open('/etc/resolv.conf').read().strip(), sorted(n for _, n in socket.if_nameindex()))"
        r = dp.invoke_code_interpreter(codeInterpreterIdentifier=cid, sessionId=sid, name="executeCode",
                                       arguments={"code": code})
        out = list(r["stream"])[0]["result"]["structuredContent"]["stdout"]
        assert out == "nameserver 10.0.2.3 ['lo', 'tap0']\n", out
    finally:
        dp.stop_code_interpreter_session(codeInterpreterIdentifier=cid, sessionId=sid)
    cp.delete_code_interpreter(codeInterpreterId=cid)


def test_control_plane_validation_and_scope(daemon, admin_key, key):
    cp = control_client(daemon, admin_key["id"], admin_key["secret"])
    for kwargs in ({"name": "has-hyphen", "networkConfiguration": {"networkMode": "SANDBOX"}},
                   {"name": "x" * 49, "networkConfiguration": {"networkMode": "SANDBOX"}},
                   {"name": "ok_name", "networkConfiguration": {"networkMode": "TELEPORT"}},
                   {"name": "ok_name", "networkConfiguration": {"networkMode": "VPC", "vpcConfig": {
                       "securityGroups": ["sg-12345678"], "subnets": ["subnet-12345678"]}}},
                   {"name": "ok_name", "description": "d" * 4097, "networkConfiguration": {"networkMode": "SANDBOX"}}):
        with pytest.raises(cp.exceptions.ValidationException):
            cp.create_code_interpreter(**kwargs)
    with pytest.raises(cp.exceptions.ValidationException):
        cp.list_code_interpreters(type="OTHER")
    token = str(uuid.uuid4())
    a = cp.create_code_interpreter(name="ac_idem", networkConfiguration={"networkMode": "SANDBOX"}, clientToken=token)
    b = cp.create_code_interpreter(name="ac_idem", networkConfiguration={"networkMode": "SANDBOX"}, clientToken=token)
    assert a["codeInterpreterId"] == b["codeInterpreterId"]
    with pytest.raises(cp.exceptions.ConflictException):
        cp.create_code_interpreter(name="ac_idem", networkConfiguration={"networkMode": "SANDBOX"})
    user = control_client(daemon, key["id"], key["secret"])  # sessions scope only
    with pytest.raises(user.exceptions.AccessDeniedException):
        user.create_code_interpreter(name="ac_nope", networkConfiguration={"networkMode": "SANDBOX"})
    with pytest.raises(user.exceptions.AccessDeniedException):
        user.delete_code_interpreter(codeInterpreterId=a["codeInterpreterId"])
    assert user.get_code_interpreter(codeInterpreterId=a["codeInterpreterId"])["name"] == "ac_idem"
    cp.delete_code_interpreter(codeInterpreterId=a["codeInterpreterId"])


def test_the_aws_sdk_for_javascript_unchanged(daemon, key):
    js = os.path.join(os.path.dirname(__file__), "..", "agentcore-js")
    require(os.path.isdir(os.path.join(js, "node_modules", "@aws-sdk", "client-bedrock-agentcore")),
            "@aws-sdk/client-bedrock-agentcore is not installed (npm ci --prefix tests/agentcore-js)")
    env = dict(os.environ, AIRLOCK_URL="http://%s:%d" % (HOST, daemon.port), AIRLOCK_KEY_ID=key["id"],
               AIRLOCK_KEY_SECRET=key["secret"], NODE_NO_WARNINGS="1")
    p = subprocess.run(["node", os.path.join(js, "run.mjs")], env=env, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert out == {"sessionId": out["sessionId"], "createdAt": True, "events": 1, "js": "6\n", "python": "42\n",
                   "isError": True, "read": "from js", "ls": "js.txt\n", "status": "READY", "listed": True,
                   "afterStop": "ResourceNotFoundException", "badSignature": "AccessDeniedException"}, out


STRANDS_SCRIPT = r'''
import json
from strands_tools.code_interpreter import AgentCoreCodeInterpreter
ci = AgentCoreCodeInterpreter(region="us-east-1", persist_sessions=False)
def act(**action):
    return ci.code_interpreter(code_interpreter_input={"action": dict(action, session_name="strands-e2e")})
out = {"init": act(type="initSession", description="e2e")["status"]}
out["execute"] = act(type="executeCode", code="print(6 * 7)", language="python")
out["write"] = act(type="writeFiles", content=[{"path": "s.txt", "text": "strands"}])["status"]
out["list"] = act(type="listFiles", path=".")
out["read"] = act(type="readFiles", paths=["s.txt"])
out["command"] = act(type="executeCommand", command="cat s.txt")
print(json.dumps(out))
'''

LANGCHAIN_SCRIPT = r'''
import asyncio, json
from langchain_aws.tools import create_code_interpreter_toolkit
async def main():
    toolkit, tools = await create_code_interpreter_toolkit(region="us-east-1")
    by = {t.name: t for t in tools}
    cfg = {"configurable": {"thread_id": "lc-e2e"}}
    out = {"tools": sorted(by)}
    out["execute"] = await by["execute_code"].ainvoke({"code": "print(6 * 7)"}, config=cfg)
    out["write"] = await by["write_files"].ainvoke({"files": [{"path": "lc.txt", "text": "langchain"}]}, config=cfg)
    out["read"] = await by["read_files"].ainvoke({"paths": ["lc.txt"]}, config=cfg)
    out["command"] = await by["execute_command"].ainvoke({"command": "cat lc.txt"}, config=cfg)
    await toolkit.cleanup()
    print(json.dumps(out))
asyncio.run(main())
'''


def run_client(daemon, key, module, script):
    try:
        __import__(module)
    except ImportError:
        require(False, "%s is not installed (see .ci/run)" % module)
    url = "http://%s:%d" % (HOST, daemon.port)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=key["id"], AWS_SECRET_ACCESS_KEY=key["secret"], AWS_REGION="us-east-1",
               BEDROCK_AGENTCORE_DP_ENDPOINT=url, BEDROCK_AGENTCORE_CP_ENDPOINT=url)
    env.pop("AWS_SESSION_TOKEN", None)
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr.decode()[-3000:]
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def test_the_strands_code_interpreter_tool_unchanged(daemon, key):
    out = run_client(daemon, key, "strands_tools.code_interpreter", STRANDS_SCRIPT)
    assert out["init"] == "success" and out["write"] == "success", out
    assert out["execute"]["status"] == "success" and "42" in out["execute"]["content"][0]["text"], out
    assert "file:///s.txt" in out["list"]["content"][0]["text"], out
    assert "'text': 'strands'" in out["read"]["content"][0]["text"], out
    assert "strands" in out["command"]["content"][0]["text"], out


def test_the_langchain_code_interpreter_toolkit_unchanged(daemon, key):
    out = run_client(daemon, key, "langchain_aws.tools", LANGCHAIN_SCRIPT)
    assert {"execute_code", "execute_command", "read_files", "write_files", "list_files"} <= set(out["tools"])
    assert out["execute"] == "42\n" and out["write"] == "Successfully wrote all 1 files", out
    assert out["read"] == "==== File: /lc.txt ====\nlangchain\n" and out["command"] == "langchain", out


def test_unsigned_requests_only_when_the_operator_allows_them(daemon):
    import boto3 as b3
    from botocore import UNSIGNED
    from botocore.config import Config
    from conftest import ExtraDaemon, http_ready

    def anon(port):
        return b3.client("bedrock-agentcore", region_name="us-east-1", endpoint_url="http://%s:%d" % (HOST, port),
                         config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}))

    # The shared daemon has it off (the default): AccessDenied.
    with pytest.raises(anon(daemon.port).exceptions.AccessDeniedException):
        anon(daemon.port).list_code_interpreter_sessions(codeInterpreterIdentifier=BUILTIN)
    with ExtraDaemon({"AIRLOCK_AGENTCORE_ALLOW_UNSIGNED_LOOPBACK": "true"}, http_ready) as d:
        c = anon(d.port)
        sid = c.start_code_interpreter_session(codeInterpreterIdentifier=BUILTIN)["sessionId"]
        r = c.invoke_code_interpreter(codeInterpreterIdentifier=BUILTIN, sessionId=sid, name="executeCode",
                                      arguments={"code": "print('unsigned')"})
        assert list(r["stream"])[0]["result"]["structuredContent"]["stdout"] == "unsigned\n"
        c.stop_code_interpreter_session(codeInterpreterIdentifier=BUILTIN, sessionId=sid)


def signed(daemon, key, method, path, body=b"", headers=None, unsigned_headers=None):
    """A request signed by botocore's own SigV4Auth, sent as is (what a client could send)."""
    import http.client

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    url = "http://%s:%d%s" % (HOST, daemon.port, path)
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key["id"], key["secret"]), "bedrock-agentcore", "us-east-1").add_auth(req)
    sent = dict(req.headers.items())
    sent.update(unsigned_headers or {})
    conn = http.client.HTTPConnection(HOST, daemon.port, timeout=60)
    conn.request(method, path, body=body, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, resp.getheader("x-amzn-ErrorType"), data


def test_signed_requests_that_could_be_read_two_ways_are_refused(daemon, key, session):
    base = "/code-interpreters/%s/sessions/get" % BUILTIN
    ok = signed(daemon, key, "GET", base + "?sessionId=" + session)
    assert ok[0] == 200, ok
    # A repeated parameter (reordering it would keep the signature) and a raw '+'.
    for query in ("?sessionId=%s&sessionId=%s" % (session, "0" * 26), "?sessionId=%s&x=a+b" % session):
        status, kind, _ = signed(daemon, key, "GET", base + query)
        assert (status, kind) == (403, "AccessDeniedException"), query
    # The session header outside the signature.
    body = json.dumps({"name": "executeCode", "arguments": {"code": "1"}}).encode()
    status, kind, _ = signed(daemon, key, "POST", "/code-interpreters/%s/tools/invoke" % BUILTIN, body,
                             {"Content-Type": "application/json"},
                             unsigned_headers={"x-amzn-code-interpreter-session-id": session})
    assert (status, kind) == (403, "AccessDeniedException")
    # A URI over 16 KiB is refused, not cut.
    status, kind, _ = signed(daemon, key, "GET", base + "?sessionId=" + session + "&pad=" + "a" * 17000)
    assert status == 414, status


def test_blobs_must_be_strict_base64(daemon, key, session):
    def write(blob):
        body = json.dumps({"name": "writeFiles", "arguments": {"content": [{"path": "b.bin", "blob": blob}]}}).encode()
        status, _, data = signed(daemon, key, "POST", "/code-interpreters/%s/tools/invoke" % BUILTIN, body,
                                 {"Content-Type": "application/json",
                                  "x-amzn-code-interpreter-session-id": session})
        assert status == 200
        from botocore.eventstream import EventStreamBuffer
        buf = EventStreamBuffer()
        buf.add_data(data)
        return json.loads(next(iter(buf)).payload)
    assert write("QUJD")["isError"] is False
    for bad in ("QQ==\n", "Q=Q=", "QUJD !", "QUJ"):
        r = write(bad)
        assert r["isError"] is True and "not base64" in r["content"][0]["text"], (bad, r)
