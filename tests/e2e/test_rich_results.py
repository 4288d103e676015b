"""Rich results from Python: MIME bundles through the display protocol, matplotlib figures as
PNG plus chart data with the plotted values, display() order, result limits, and the SSE
stream keeping a cell's order. Real daemon, real sandboxes."""
import base64
import glob
import json
import struct

from airlock_api import expect, file_target
from prereq import require
from test_streaming import stream

CHART = "application/vnd.airlock.chart+json"
SPILLED = "application/vnd.airlock.spilled+json"


def png_size(b64: str) -> tuple[int, int]:
    """Width and height of a base64 PNG, after checking it is one (signature, IHDR, IEND)."""
    data = base64.b64decode(b64, validate=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    assert data[-8:-4] == b"IEND", "a PNG must end with its IEND chunk"
    return struct.unpack(">II", data[16:24])


def figures(ex):
    return [r for r in ex["results"] if "image/png" in r]


def only_chart(client, sid, code):
    ex = client.run_ok(sid, "import matplotlib.pyplot as plt\n" + code)
    shown = figures(ex)
    assert len(shown) == 1, ex["results"]
    width, height = png_size(shown[0]["image/png"])
    assert width > 100 and height > 100
    assert shown[0]["text/plain"].startswith("<Figure size")
    return shown[0][CHART]


def test_dataframe_gives_text_and_html(client, sid):
    ex = client.run_ok(sid, "import pandas as pd\ndf = pd.DataFrame({'city': ['Oslo', 'Lima'], 'temp': [3.5, 19.0]})\ndf")
    (bundle,) = ex["results"]
    assert "Oslo" in bundle["text/plain"] and "19.0" in bundle["text/plain"]
    html = bundle["text/html"]
    assert "<table" in html and "<td>Oslo</td>" in html and "<td>19.0</td>" in html
    series = client.run_ok(sid, "df['temp']")["results"][0]
    assert "<table" in series["text/html"] and "3.5" in series["text/plain"]


def test_custom_repr_methods_and_display_order(client, sid):
    code = ("class Card:\n"
            "    def __repr__(self): return 'Card()'\n"
            "    def _repr_html_(self): return '<b>ace</b>'\n"
            "    def _repr_markdown_(self): return '**ace**'\n"
            "    def _repr_json_(self): return {'rank': 'ace'}\n"
            "    def _repr_svg_(self): return '<svg xmlns=\"http://www.w3.org/2000/svg\"/>'\n"
            "    def _repr_latex_(self): return r'$\\spadesuit$'\n"
            "display('one')\ndisplay(Card(), 3)\nprint('printed')\n[1, 2]")
    ex = client.run_ok(sid, code)
    assert [r["text/plain"] for r in ex["results"]] == ["'one'", "Card()", "3", "[1, 2]"]
    card = ex["results"][1]
    assert card == {"text/plain": "Card()", "text/html": "<b>ace</b>", "text/markdown": "**ace**",
                    "application/json": {"rank": "ace"},
                    "image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"/>',
                    "text/latex": "$\\spadesuit$"}
    assert ex["stdout"] == "printed\n"


def test_a_failing_formatter_loses_only_its_own_form(client, sid):
    ex = client.run_ok(sid, "class Odd:\n    def __repr__(self): return 'Odd()'\n"
                            "    def _repr_html_(self): raise ValueError('no')\nOdd()")
    assert ex["results"] == [{"text/plain": "Odd()"}]
    # a __getattr__ that answers everything is not taken for a formatter
    ex = client.run_ok(sid, "class Any:\n    def __getattr__(self, name): return lambda *a, **k: 'x'\n"
                            "    def __repr__(self): return 'Any()'\nAny()")
    assert ex["results"] == [{"text/plain": "Any()"}]


def test_pil_image_gives_png(client, sid):
    ex = client.run_ok(sid, "from PIL import Image\nImage.new('RGB', (32, 16), 'red')")
    (bundle,) = ex["results"]
    assert png_size(bundle["image/png"]) == (32, 16)


def test_line_chart(client, sid):
    chart = only_chart(client, sid, "plt.plot([1, 2, 3], [2.5, 4, 8], label='growth')\nplt.title('Growth')\n"
                                    "plt.xlabel('year'); plt.ylabel('size'); plt.yscale('log')\nplt.legend()")
    assert chart["type"] == "line" and chart["title"] == "Growth"
    assert (chart["x_label"], chart["y_label"], chart["x_scale"], chart["y_scale"]) == ("year", "size", "linear", "log")
    assert chart["elements"] == [{"label": "growth", "points": [[1, 2.5], [2, 4], [3, 8]]}]


def test_bar_chart_with_categories(client, sid):
    chart = only_chart(client, sid, "plt.bar(['apples', 'pears', 'plums'], [5, 3, 7], label='sold')")
    assert chart["type"] == "bar" and chart["orientation"] == "vertical"
    assert chart["elements"] == [{"label": "apples", "value": 5, "group": "sold"},
                                 {"label": "pears", "value": 3, "group": "sold"},
                                 {"label": "plums", "value": 7, "group": "sold"}]
    chart = only_chart(client, sid, "plt.barh(['x', 'y'], [1.5, 2])")
    assert chart["orientation"] == "horizontal"
    assert [(e["label"], e["value"]) for e in chart["elements"]] == [("x", 1.5), ("y", 2)]


def test_scatter_chart(client, sid):
    chart = only_chart(client, sid, "plt.scatter([0.5, 1, 2], [3, 1, 4], label='obs')")
    assert chart["type"] == "scatter"
    assert chart["elements"] == [{"label": "obs", "points": [[0.5, 3], [1, 1], [2, 4]]}]


def test_pie_chart(client, sid):
    chart = only_chart(client, sid, "plt.pie([10, 30, 60], labels=['rent', 'food', 'fun'])\nplt.title('Budget')")
    assert chart["type"] == "pie" and chart["title"] == "Budget"
    assert chart["elements"] == [{"label": "rent", "value": 10, "fraction": 0.1},
                                 {"label": "food", "value": 30, "fraction": 0.3},
                                 {"label": "fun", "value": 60, "fraction": 0.6}]


def test_box_chart(client, sid):
    chart = only_chart(client, sid, "plt.boxplot([[1, 2, 3, 4, 5, 40], [10, 11, 12]], labels=['a', 'b'])")
    assert chart["type"] == "box"
    a, b = chart["elements"]
    assert a == {"label": "a", "min": 1, "q1": 2.25, "median": 3.5, "q3": 4.75, "max": 5,
                 "mean": 55 / 6, "outliers": [40]}
    assert (b["label"], b["min"], b["median"], b["max"], b["outliers"]) == ("b", 10, 11, 12, [])


def test_multi_axes_figure_and_dates(client, sid):
    chart = only_chart(client, sid, "import pandas as pd\nfig, (l, r) = plt.subplots(1, 2)\nfig.suptitle('Both')\n"
                                    "l.plot(pd.date_range('2024-03-01', periods=2), [1, 2])\n"
                                    "r.bar(['p', 'q'], [3, 4])")
    assert chart["type"] == "multi" and chart["title"] == "Both"
    line, bar = chart["charts"]
    assert line["type"] == "line" and [p[0][:10] for p in line["elements"][0]["points"]] == ["2024-03-01", "2024-03-02"]
    assert bar["type"] == "bar" and [e["label"] for e in bar["elements"]] == ["p", "q"]


def test_show_order_and_figures_close(client, sid):
    ex = client.run_ok(sid, "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\nprint('between')\n"
                            "plt.bar(['a'], [1])\ndisplay('after both')")
    kinds = [r[CHART]["type"] if CHART in r else r["text/plain"] for r in ex["results"]]
    # the shown figure, the display() call, then the figure left open at the end of the cell
    assert kinds == ["line", "'after both'", "bar"], kinds
    again = client.run_ok(sid, "len(plt.get_fignums())")
    assert again["results"] == [{"text/plain": "0"}], "shown figures are closed"
    ex = client.run_ok(sid, "fig = plt.figure()\nfig.gca().plot([3, 4])\nfig")
    assert len(figures(ex)) == 1, "a figure as the trailing expression is shown once"


def test_figure_formats_and_svg(client, sessions):
    sid = sessions(env={"AIRLOCK_FIGURE_FORMATS": "png,svg"})
    ex = client.run_ok(sid, "import matplotlib.pyplot as plt\nplt.plot([1, 2])")
    (fig,) = figures(ex)
    assert fig["image/svg+xml"].lstrip().startswith("<?xml") and "<svg" in fig["image/svg+xml"]


def test_large_results_are_cut_and_saved_in_the_workspace(client, sid):
    ex = client.run_ok(sid, "'z' * 3000000")
    (bundle,) = ex["results"]
    cap = 1024 * 1024
    assert bundle["text/plain"].startswith("'zzz") and len(bundle["text/plain"]) < cap + 200
    (spilled,) = bundle[SPILLED]
    assert spilled["mime"] == "text/plain" and spilled["bytes"] == 3000002
    assert "[truncated: %d more characters; the whole is %s in the workspace]" % (3000002 - cap, spilled["path"]) \
        in bundle["text/plain"]
    whole = expect(client.get(file_target(sid, spilled["path"])), 200).body
    assert whole == b"'" + b"z" * 3000000 + b"'"


def test_large_output_is_saved_whole_in_the_workspace(client, sid):
    ex = client.run_ok(sid, "import sys\nfor i in range(30000):\n    print('%09d' % i + 'x' * 90)\n"
                            "sys.stderr.write('e' * 10)")
    whole = b"".join(b"%09dx" % i + b"x" * 89 + b"\n" for i in range(30000))
    assert len(ex["stdout"]) == 1 << 20 and ex["stdout_dropped_bytes"] == len(whole) - (1 << 20)
    assert ex["stdout_path"] == ".airlock/outputs/%s-stdout.txt" % ex["execution_id"]
    assert expect(client.get(file_target(sid, ex["stdout_path"])), 200).body == whole
    assert ex["stderr"] == "e" * 10 and "stderr_path" not in ex and "stderr_dropped_bytes" not in ex


def test_huge_image_is_saved_not_inlined(client, sid):
    code = ("import base64, os\nclass Big:\n    def __repr__(self): return 'Big()'\n"
            "    def _repr_png_(self): return b'\\x89PNG\\r\\n\\x1a\\n' + os.urandom(5 * 1024 * 1024)\nBig()")
    (bundle,) = client.run_ok(sid, code)["results"]
    assert "image/png" not in bundle
    (spilled,) = bundle[SPILLED]
    assert spilled["mime"] == "image/png" and spilled["bytes"] == 5 * 1024 * 1024 + 8
    body = expect(client.get(file_target(sid, spilled["path"])), 200).body
    assert len(body) == spilled["bytes"] and body[:4] == b"\x89PNG"


def test_stream_keeps_the_cells_order(client, sid):
    code = ("import time\nimport matplotlib.pyplot as plt\nprint('before', flush=True)\n"
            "display('first value')\ntime.sleep(2)\nprint('after the sleep', flush=True)\n"
            "plt.plot([1, 2, 3])\nplt.show()\nprint('last')")
    events = stream(client, sid, code)
    story = []
    for event, data, seconds in events:
        if event == "stdout":
            if story and story[-1][0] == "stdout":
                story[-1] = ("stdout", story[-1][1] + data["text"], story[-1][2])
            else:
                story.append(("stdout", data["text"], seconds))
        elif event == "result":
            story.append(("result", (CHART in data and data[CHART]["type"]) or data["text/plain"], seconds))
        else:
            story.append((event, None, seconds))
    assert [(k, v) for k, v, _ in story] == [
        ("stdout", "before\n"), ("result", "'first value'"), ("stdout", "after the sleep\n"),
        ("result", "line"), ("stdout", "last\n"), ("end", None)], story
    first_value, plot = story[1][2], story[3][2]
    assert plot - first_value > 1.5, "the plot arrived with the first value, not after the sleep"
    end = events[-1][1]
    assert [r.get(CHART, {}).get("type") or r["text/plain"] for r in end["results"]] == ["'first value'", "line"]


FONT_CACHE_PROBE = """import errno, io, json, logging, os
log = io.StringIO()
fm_log = logging.getLogger('matplotlib.font_manager')
fm_log.addHandler(logging.StreamHandler(log))
fm_log.setLevel(logging.DEBUG)
%s
import matplotlib, matplotlib.pyplot
from matplotlib import font_manager as fm
name = 'fontlist-v%%s.json' %% fm.FontManager.__version__
own, shared = os.path.join(matplotlib.get_cachedir(), name), os.path.join('/run/airlock/matplotlib', name)
def refused(fn):
    try:
        fn()
    except OSError as e:
        return errno.errorcode[e.errno]
    return None
print(json.dumps({
    'log': log.getvalue(), 'own': own, 'own_is_file': os.path.isfile(own) and not os.path.islink(own),
    'same': open(own, 'rb').read() == open(shared, 'rb').read() if os.path.exists(shared) else None,
    'fonts_here': all(os.path.isfile(f.fname) for f in fm.fontManager.ttflist),
    'shared_owner_is_me': os.stat(shared).st_uid == os.getuid(),
    'shared_writable': os.access(shared, os.W_OK) or os.access(os.path.dirname(shared), os.W_OK),
    'append': refused(lambda: open(shared, 'a').close()),
    'create': refused(lambda: open(shared + '.mine', 'w').close()),
    'chmod': refused(lambda: os.chmod(shared, 0o666)),
    'remove': refused(lambda: os.unlink(shared)),
}))
"""


def test_sessions_start_with_the_shared_font_cache(client, sessions):
    """matplotlib's font cache is built once on the host (scripts/build-font-cache.sh) and
    shared read-only: a session's first `import matplotlib.pyplot` reads the copy in its
    own MPLCONFIGDIR and builds nothing (docs/benchmarks.md, B1p); no sandbox can change
    the shared cache."""
    require(bool(glob.glob("/var/cache/airlock/matplotlib/fontlist-v*.json")),
            "no shared matplotlib font cache on this host: run scripts/build-font-cache.sh (install-deps.sh does)")
    # Not the pool's shape: built on demand, so its runner has not imported pyplot yet (a
    # pooled one has, at idle time, from the same cache: test_pool_preload.py).
    unpooled = {"limits": {"memory_mb": 600}}
    got = json.loads(client.run_ok(sessions(**unpooled), FONT_CACHE_PROBE % "")["stdout"])
    assert "Using fontManager instance from " + got["own"] in got["log"], got
    assert "generated new fontManager" not in got["log"], got
    assert got["own"].startswith("/tmp/") and got["own_is_file"] and got["same"], got
    assert got["fonts_here"], "the shared cache names fonts this sandbox cannot see"
    assert not got["shared_owner_is_me"] and not got["shared_writable"], got
    assert got["append"] in ("EROFS", "EACCES") and got["create"] in ("EROFS", "EACCES"), got
    assert got["chmod"] in ("EROFS", "EPERM") and got["remove"] in ("EROFS", "EACCES"), got
    # The control: without the copy, the same probe sees matplotlib build its cache (and
    # write it where it can: the session's own directory).
    rebuilt = json.loads(client.run_ok(sessions(**unpooled), FONT_CACHE_PROBE % (
        "import glob\nfor f in glob.glob(os.path.join(os.environ['MPLCONFIGDIR'], 'fontlist-*')): os.unlink(f)"))["stdout"])
    assert "generated new fontManager" in rebuilt["log"] and "Using fontManager" not in rebuilt["log"], rebuilt
    assert rebuilt["own_is_file"], rebuilt
