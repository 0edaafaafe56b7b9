"""Generate Python code and type stubs for every contract under protos/ into libs/rendezvous/.

Run by `make gen` (and so by `make run` / `make test`). The output is never edited by hand and is
not committed; a stamp of the inputs' hash skips the work when nothing changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[1]
PROTOS = ROOT / "protos"
THIRD_PARTY = ROOT / "third_party" / "protos"
OUT = ROOT / "libs"
PACKAGE = OUT / "rendezvous"
STAMP = PACKAGE / ".stamp"


def _inputs() -> list[Path]:
    return sorted(PROTOS.rglob("*.proto"))


def _digest(files: list[Path]) -> str:
    h = hashlib.sha256()
    h.update(Path(__file__).read_bytes())
    for f in files:
        h.update(str(f.relative_to(ROOT)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main() -> int:
    files = _inputs()
    digest = _digest(files)
    if STAMP.exists() and STAMP.read_text() == digest and "--force" not in sys.argv:
        print("protos: generated code is up to date")
        return 0
    if PACKAGE.exists():
        shutil.rmtree(PACKAGE)
    site_protos = Path(grpc_tools.__file__).parent / "_proto"
    import google.rpc.status_pb2 as status_pb2  # googleapis-common-protos ships the .proto files too

    includes = [PROTOS, THIRD_PARTY, site_protos, Path(status_pb2.__file__).parents[2]]
    args = ["protoc", *(f"-I{p}" for p in includes)]
    args += [
        f"--python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        "--mypy_grpc_opt=generate_concrete_servicer_stubs",
        *(str(f.relative_to(PROTOS)) for f in files),
    ]
    # protoc finds the mypy plugins (protoc-gen-mypy, protoc-gen-mypy_grpc) next to this Python.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    code = protoc.main(args)
    if code != 0:
        print("protos: protoc failed", file=sys.stderr)
        return code
    for directory in [PACKAGE, *(p for p in PACKAGE.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    (PACKAGE / "py.typed").touch()
    STAMP.write_text(digest)
    print(f"protos: generated {len(files)} files into {PACKAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
