"""Every input the fuzzers kept (Tests/fuzz/<target>/, see tools/fuzz) replayed through the
same targets on the ordinary build: a crash found once stays a regression test. Also checks
that the proto target covers every RPC input type of proto/."""

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_every_corpus_input_replays_without_a_crash():
    binary = Path(os.environ["CASSETTO_BIN_DIR"]) / "cassetto-fuzz"
    result = subprocess.run([str(binary), str(REPO / "Tests/fuzz")], capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    replayed = int(re.search(r"replayed (\d+) inputs", result.stdout).group(1))
    assert replayed == sum(1 for p in (REPO / "Tests/fuzz").glob("*/*") if p.is_file())
    for target in ("http2", "framing", "metadata", "proto"):
        assert any((REPO / "Tests/fuzz" / target).iterdir()), f"empty corpus for {target}"


def test_the_proto_target_decodes_every_request_type():
    listed = (REPO / "tools/cassetto-fuzz/RequestTypes.swift").read_text()
    for proto in (REPO / "proto/cassetto").glob("*/v1/*.proto"):
        text = proto.read_text()
        package = re.search(r"^package ([\w.]+);", text, re.M).group(1)
        prefix = "_".join(p[0].upper() + p[1:] for p in package.split(".")) + "_"
        for match in re.finditer(r"rpc\s+\w+\s*\(\s*(?:stream\s+)?(\w+)\s*\)", text):
            assert f"{prefix}{match.group(1)}.self" in listed, \
                f"{prefix}{match.group(1)} missing from tools/cassetto-fuzz/RequestTypes.swift"
