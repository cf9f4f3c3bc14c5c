"""The kernel contract, checked on the CPU: what ``kernels/`` defines against what Python says.

A mismatch between an ``extern "C" __global__`` signature and the registry, or between an
engine ``#define`` and its Python mirror, would otherwise show only on a GPU (a wrong
argument packing, a workspace too small). Here a small C preprocessor reads every
``kernels/*.hip`` as the loader compiles it (its headers, the loader's ``-D`` options, the
macros of hiprtc and of NVRTC) and the tests compare:

* every ``extern "C" __global__`` it finds with a table of expected entries that the registry
  (:data:`rocsample.registry.KERNELS`) and any ``rocsample.ops`` module (``MODULES`` and
  ``ENTRIES``) contribute: names, argument order, argument names and C types, both ways;
* each entry's ``__launch_bounds__`` with the block its family is launched with;
* each module's ``headers`` with the headers its source includes;
* the engine constants Python mirrors with their ``#define`` s, ``ws_words`` with
  ``rs_ws_words`` (evaluated from the C source), and the ``#error`` guards with the loader's
  options; the ABI version is spelled only in ``rocsample/registry.py``.

Example
-------
>>> unit = Unit("topk_sampling.hip", "hiprtc", "gfx90a")
>>> unit.entries["topk_sampling_kernel"].names[:2]
('probs', 'row_stride')
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from rocsample import registry
from rocsample.backends import cpu_engine as cpu_kernels
from rocsample.toolchains import Toolchain, wave_size_for

KERNEL_DIR = registry.kernel_source_dir()
#: (toolchain, target) pairs the contract is read for: both compilers, wave64 and wave32.
TARGETS = [("hiprtc", "gfx90a"), ("hiprtc", "gfx1030"), ("nvrtc", "sm_90")]
#: What each compiler predefines that the kernels test (rs_common.h picks RS_CUDA from these).
PLATFORM_MACROS = {
    "hiprtc": {"__HIP__": "1", "__HIPCC_RTC__": "1", "__HIP_DEVICE_COMPILE__": "1"},
    "nvrtc": {"__CUDACC__": "1", "__CUDACC_RTC__": "1", "__CUDA_ARCH__": "900"},
}
#: C scalar types of by-value arguments, in the registry's type codes. Two-byte floats: CUDA's
#: names, and the rs_ storage structs that stand for them (a runtime compile has no cuda_fp16.h).
SCALAR_CODES = {
    "int": "i32", "signed int": "i32", "unsigned int": "u32", "unsigned": "u32",
    "short": "i16", "short int": "i16", "unsigned short": "u16", "unsigned short int": "u16",
    "signed char": "i8", "unsigned char": "u8",
    "long long": "i64", "long long int": "i64", "signed long long": "i64",
    "unsigned long long": "u64", "unsigned long long int": "u64",
    "float": "f32", "double": "f64",
    "__half": "f16", "rs_f16": "f16", "__nv_bfloat16": "bf16", "rs_bf16": "bf16",
}
_QUALIFIERS = {"const", "volatile", "__restrict__", "__restrict", "restrict"}
_TYPE_WORDS = {"const", "volatile", "unsigned", "signed", "long", "int", "short", "char",
               "float", "double", "bool", "void", "*"}


# ---- a small C preprocessor ----

_TOKEN = re.compile(r"""
    "(?:\\.|[^"\\\n])*" | '(?:\\.|[^'\\\n])*'      # string and character literals
  | [A-Za-z_]\w*                                    # identifiers
  | \.?\d(?:[eEpP][+-]|[\w.])*                      # numbers, suffixes included
  | \#\# | <<=? | >>=? | <= | >= | == | != | && | \|\| | :: | -> | \.\.\. | \S
""", re.X)
_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|//[^\n]*|/\*.*?\*/', re.S)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _strip_comments(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        s = m.group()
        if s[0] in "\"'":
            return s
        return " " + "\n" * s.count("\n")  # keeps the lines, and the tokens apart

    return _COMMENT.sub(repl, text)


@dataclass(frozen=True)
class Macro:
    params: tuple[str, ...] | None  # None: object-like
    body: tuple[str, ...]


def _balanced(tokens: list[str], i: int) -> tuple[list[list[str]], int]:
    """The comma-separated groups inside the parentheses opening at tokens[i], and the index
    after the closing one."""
    assert tokens[i] == "("
    depth, groups, cur = 0, [], []
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t == "(":
            depth += 1
            if depth == 1:
                continue
        elif t == ")":
            depth -= 1
            if depth == 0:
                groups.append(cur)
                return ([] if groups == [[]] else groups), j + 1
        if t == "," and depth == 1:
            groups.append(cur)
            cur = []
        else:
            cur.append(t)
    raise ValueError(f"unbalanced parentheses in {' '.join(tokens[i:i + 40])}")


def expand(tokens: list[str], macros: dict[str, Macro], hide: frozenset[str] = frozenset()
           ) -> list[str]:
    """Macro-expand a token list (object- and function-like macros, ``##`` and ``#``)."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        m = macros.get(t)
        if m is None or t in hide:
            out.append(t)
            i += 1
        elif m.params is None:
            out += expand(list(m.body), macros, hide | {t})
            i += 1
        elif i + 1 < len(tokens) and tokens[i + 1] == "(":
            args, i = _balanced(tokens, i + 1)
            body = _substitute(m, args, macros, hide)
            out += expand(body, macros, hide | {t})
        else:
            out.append(t)
            i += 1
    return out


def _substitute(m: Macro, args: list[list[str]], macros: dict[str, Macro],
                hide: frozenset[str]) -> list[str]:
    params = list(m.params or ())
    bind: dict[str, list[str]] = {}
    for k, p in enumerate(params):
        if p == "...":
            rest = args[k:]
            bind["__VA_ARGS__"] = [t for n, a in enumerate(rest) for t in ([","] if n else []) + a]
        else:
            bind[p] = args[k] if k < len(args) else []
    body = list(m.body)
    out: list[str] = []
    for k, t in enumerate(body):
        pasted = (k > 0 and body[k - 1] == "##") or (k + 1 < len(body) and body[k + 1] == "##")
        if t == "#" and k + 1 < len(body) and body[k + 1] in bind:
            continue
        if k > 0 and body[k - 1] == "#" and t in bind:
            out.append('"' + " ".join(bind[t]) + '"')
        elif t in bind:
            out += bind[t] if pasted else expand(bind[t], macros, hide)
        else:
            out.append(t)
    while "##" in out:  # paste the tokens either side of each ##
        k = out.index("##")
        out[k - 1:k + 2] = [out[k - 1] + out[k + 1]]
    return out


# ---- C integer expressions (#if, and device functions of plain arithmetic) ----

_BINARY = {"||": 1, "&&": 2, "|": 3, "^": 4, "&": 5, "==": 6, "!=": 6, "<": 7, ">": 7,
           "<=": 7, ">=": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}


def _cdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _apply(op: str, a: int, b: int) -> int:
    if op == "/":
        return _cdiv(a, b)
    if op == "%":
        return a - b * _cdiv(a, b)
    return {"||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
            "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
            "==": lambda: int(a == b), "!=": lambda: int(a != b), "<": lambda: int(a < b),
            ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
            "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b,
            "-": lambda: a - b, "*": lambda: a * b}[op]()


class Expr:
    """Evaluates one C integer expression: literals, names (``a.b`` member names too), calls,
    casts (ignored), unary and binary operators and ``?:``, as C does for these values."""

    def __init__(self, tokens: list[str], names: dict[str, Any], type_words: set[str]):
        self.t, self.i, self.names, self.types = tokens, 0, names, type_words

    def value(self) -> int:
        v = self._ternary()
        if self.i != len(self.t):
            raise ValueError(f"cannot evaluate {' '.join(self.t)!r} past {self.t[self.i]!r}")
        return v

    def _peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def _take(self, want: str | None = None) -> str:
        t = self._peek()
        if t is None or (want is not None and t != want):
            raise ValueError(f"expected {want or 'more'} in {' '.join(self.t)!r}")
        self.i += 1
        return t

    def _ternary(self) -> int:
        c = self._binary(1)
        if self._peek() != "?":
            return c
        self._take("?")
        a = self._ternary()
        self._take(":")
        b = self._ternary()
        return a if c else b

    def _binary(self, floor: int) -> int:
        v = self._unary()
        while (op := self._peek()) in _BINARY and _BINARY[op] >= floor:
            self._take()
            v = _apply(op, v, self._binary(_BINARY[op] + 1))
        return v

    def _unary(self) -> int:
        t = self._peek()
        if t in ("-", "+", "!", "~"):
            self._take()
            v = self._unary()
            return {"-": -v, "+": v, "!": int(not v), "~": ~v}[t]
        if t == "(":
            j = self.i + 1
            while j < len(self.t) and self.t[j] in self.types:
                j += 1
            if j > self.i + 1 and j < len(self.t) and self.t[j] == ")":  # a cast
                self.i = j + 1
                return self._unary()
            self._take("(")
            v = self._ternary()
            self._take(")")
            return v
        return self._primary()

    def _primary(self) -> int:
        t = self._take()
        if t[0].isdigit():
            n = t.rstrip("uUlL")
            if n[:2] in ("0x", "0X"):
                return int(n, 16)
            return int(n, 8) if n.startswith("0") else int(n)
        while self._peek() == "." and self.i + 1 < len(self.t):  # a member: w.head
            self._take(".")
            t += "." + self._take()
        try:
            v = self.names[t]
        except KeyError:
            raise ValueError(f"unknown name {t!r} in {' '.join(self.t)!r}") from None
        if self._peek() == "(":
            args, self.i = _balanced(self.t, self.i)
            return v(*(Expr(a, self.names, self.types).value() for a in args))
        return v


# ---- one translation unit, as the loader compiles it ----


@dataclass(frozen=True)
class Entry:
    """One ``__global__`` function: its argument names and C types, as written."""

    name: str
    extern_c: bool
    returns: str
    names: tuple[str, ...]
    c_types: tuple[str, ...]
    bounds: tuple[tuple[str, ...], ...]  # the __launch_bounds__ arguments, macros expanded


class Unit:
    """``kernels/<source>`` preprocessed for ``toolchain``/``target`` with the loader's options.

    ``entries``: every ``__global__`` function; ``included``: the headers read, in order;
    ``errors``: the ``#error`` directives that fire; ``macros``: the definitions at the end;
    ``redefined``: loader options a source ``#define`` s again.
    """

    def __init__(self, source: str, toolchain: str, target: str, root: Path = KERNEL_DIR,
                 options: list[str] | None = None):
        self.root = root
        self.predefined = dict(PLATFORM_MACROS[toolchain])
        for opt in options if options is not None else loader_options(target):
            if opt.startswith("-D"):
                name, _, value = opt[2:].partition("=")
                self.predefined[name] = value or "1"
        self.macros = {n: Macro(None, tuple(tokenize(v))) for n, v in self.predefined.items()}
        self.included: list[str] = []
        self.errors: list[str] = []
        self.redefined: list[str] = []
        self.code: list[str] = []
        self._once: set[str] = set()
        self._read(source)
        self.typedefs = self._typedefs()
        self.entries = self._entries()

    # -- preprocessing --

    def _read(self, name: str) -> None:
        if name in self._once:
            return
        path = self.root / name
        if not path.is_file():
            raise FileNotFoundError(f"{name}: not in {self.root} (the kernels include no "
                                    "system headers: the compile passes ours in memory)")
        text = _strip_comments(path.read_text().replace("\\\n", " "))
        active = [True]  # one flag per open conditional, and whether a branch was taken
        taken: list[bool] = []
        pending: list[str] = []

        def flush() -> None:
            if pending:
                self.code += expand(tokenize("\n".join(pending)), self.macros)
                pending.clear()

        for line in text.split("\n"):
            s = line.strip()
            if not s.startswith("#"):
                if active[-1] and s:
                    pending.append(s)
                continue
            m = re.match(r"#\s*(\w*)\s*(.*)", s)
            assert m is not None
            word, rest = m.group(1), m.group(2).strip()
            if word in ("if", "ifdef", "ifndef"):
                cond = (self._if(rest) if word == "if"
                        else (rest.split()[0] in self.macros) == (word == "ifdef"))
                cond = active[-1] and cond
                active.append(cond)
                taken.append(cond)
            elif word == "elif":
                cond = active[-2] and not taken[-1] and self._if(rest)
                active[-1] = cond
                taken[-1] = taken[-1] or cond
            elif word == "else":
                active[-1] = active[-2] and not taken[-1]
                taken[-1] = True
            elif word == "endif":
                active.pop()
                taken.pop()
            elif not active[-1]:
                continue
            elif word == "include":
                flush()
                m = re.fullmatch(r'"([^"]+)"', rest)
                if m is None:
                    raise ValueError(f"{name}: #include {rest}: only \"...\" headers of "
                                     "kernels/ (no system headers)")
                if m.group(1) not in self._once:
                    self.included.append(m.group(1))
                self._read(m.group(1))
            elif word == "define":
                flush()
                self._define(rest)
            elif word == "undef":
                flush()
                self.macros.pop(rest.split()[0], None)
            elif word == "pragma" and rest == "once":
                self._once.add(name)
            elif word == "error":
                self.errors.append(f"{name}: #error {rest}")
        flush()
        if len(active) != 1:
            raise ValueError(f"{name}: unterminated #if")

    def _define(self, rest: str) -> None:
        m = re.match(r"([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)", rest)
        assert m is not None, rest
        name, params, body = m.group(1), m.group(3), m.group(4)
        if name in self.predefined and name.startswith("RS_"):
            self.redefined.append(name)
        ps = None if m.group(2) is None else tuple(p.strip() for p in params.split(",") if
                                                     p.strip())
        self.macros[name] = Macro(ps, tuple(tokenize(body)))

    def _if(self, text: str) -> int:
        toks = tokenize(text)
        out: list[str] = []
        i = 0
        while i < len(toks):  # defined X / defined(X) before any expansion
            if toks[i] == "defined":
                paren = toks[i + 1] == "("
                name = toks[i + 2] if paren else toks[i + 1]
                out.append("1" if name in self.macros else "0")
                i += 4 if paren else 2
            else:
                out.append(toks[i])
                i += 1
        toks = [t if not re.fullmatch(r"[A-Za-z_]\w*", t) else "0"
                for t in expand(out, self.macros)]  # names left over are 0, as in C
        return Expr(toks, {}, set()).value()

    # -- what the code defines --

    def _typedefs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        code, i = self.code, 0
        while i < len(code):
            if code[i] == "typedef":
                j = code.index(";", i)
                words = code[i + 1:j]
                if words and all(re.fullmatch(r"\w+", w) for w in words):
                    out[words[-1]] = " ".join(words[:-1])
                i = j
            i += 1
        return out

    def resolve(self, c_type: str) -> str:
        while c_type in self.typedefs:
            c_type = self.typedefs[c_type]
        return c_type

    def _entries(self) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        code = self.code
        for i, t in enumerate(code):
            if t != "__global__":
                continue
            start = i  # the declaration's first token: after the previous ; } or {
            while start > 0 and code[start - 1] not in (";", "}", "{"):
                start -= 1
            head = code[start:i]
            extern_c = any(head[k:k + 2] == ["extern", '"C"'] for k in range(len(head)))
            j, words, bounds = i + 1, [], []
            while code[j] != "(" or not words or words[-1] in ("__launch_bounds__",
                                                               "__attribute__"):
                if code[j] == "(":  # the arguments of __launch_bounds__ / __attribute__
                    groups, j = _balanced(code, j)
                    if words.pop() == "__launch_bounds__":
                        bounds.append(tuple(" ".join(g) for g in groups))
                    continue
                words.append(code[j])
                j += 1
            name, returns = words[-1], " ".join(w for w in words[:-1] if w != "static")
            params, end = _balanced(code, j)
            if code[end] not in ("{", ";"):
                raise ValueError(f"{name}: cannot read its declaration ({code[end]!r} after "
                                 "the argument list)")
            if params == [["void"]]:
                params = []
            names = tuple(p[-1] for p in params)
            c_types = tuple(" ".join(p[:-1]) for p in params)
            entry = Entry(name, extern_c, returns, names, c_types, tuple(bounds))
            if name in out and out[name] != entry:
                raise ValueError(f"{name} is declared twice with different signatures")
            out[name] = entry
        return out

    def type_code(self, c_type: str) -> str:
        """The registry's code for an argument's C type: ``ptr`` for any pointer, else the
        scalar's code (qualifiers dropped, typedefs resolved); ``?<type>`` if unknown."""
        words = [w for w in c_type.split() if w not in _QUALIFIERS]
        if "*" in words:
            return "ptr"
        base = self.resolve(" ".join(words))
        return SCALAR_CODES.get(base, f"?{base}")

    def value(self, name: str) -> int:
        """The value of an object-like macro, as the compiler would compute it."""
        return Expr(expand([name], self.macros), {}, _TYPE_WORDS | set(self.typedefs)).value()

    def call(self, name: str, *args: int) -> tuple[int | None, dict[str, int]]:
        """Runs a ``__device__`` function of integer arithmetic from its source: its
        declarations, assignments (``x = ...``, ``w.f = ...``) and its return. Returns the
        returned value (None for a struct, whose fields are then among the names) and the
        names it assigned."""
        code = self.code
        i = next(k for k in range(len(code) - 1)
                 if code[k] == name and code[k + 1] == "(" and
                 code[_balanced(code, k + 1)[1]] == "{")
        params, j = _balanced(code, i + 1)
        depth, k = 0, j
        while True:
            depth += {"{": 1, "}": -1}.get(code[k], 0)
            if depth == 0:
                break
            k += 1
        names = _Names(self)
        names.update(zip((p[-1] for p in params), args, strict=True))
        types = _TYPE_WORDS | set(self.typedefs)
        stmt: list[str] = []
        for t in code[j + 1:k]:
            if t != ";":
                stmt.append(t)
            elif stmt[0] == "return":
                if len(stmt) == 2 and stmt[1] not in names:  # a struct built above
                    return None, dict(names)
                return Expr(stmt[1:], names, types).value(), dict(names)
            else:
                if "=" in stmt:
                    eq = stmt.index("=")
                    member = eq >= 3 and stmt[eq - 2] == "."
                    lhs = "".join(stmt[eq - 3:eq]) if member else stmt[eq - 1]
                    names[lhs] = Expr(stmt[eq + 1:], names, types).value()
                stmt = []
        raise ValueError(f"{name} has no return statement")

    def function(self, name: str) -> Callable[..., int]:
        """:meth:`call` of a function that returns an integer, as a Python function."""

        def run(*args: int) -> int:
            value, _ = self.call(name, *args)
            if value is None:
                raise ValueError(f"{name} returns no integer")
            return value

        return run


class _Names(dict):
    """Names of an expression; a name not assigned yet may be a device function of the unit."""

    def __init__(self, unit: Unit):
        super().__init__()
        self.unit = unit

    def __missing__(self, key: str) -> Callable[..., int]:
        code = self.unit.code
        if any(code[k] == key and code[k + 1] == "(" for k in range(len(code) - 1)):
            return self.unit.function(key)
        raise KeyError(key)


def loader_options(target: str) -> list[str]:
    """The options the loader compiles ``target`` with (the ``-D`` s are both toolchains')."""
    return Toolchain("hiprtc", None, "hiprtc", "Code").options(target, wave_size_for(target))


# ---- the expected entries: the registry, and every rocsample.ops module ----


@dataclass(frozen=True)
class Expected:
    entry: str
    source: str
    signature: tuple[tuple[str, str], ...]
    block: int | None  # threads a block the family launches with; None: not declared
    owner: str  # the Python module that declares it


def _ops_modules() -> list[ModuleType]:
    """The modules of this checkout's ``rocsample.ops`` (none before that package exists).

    Listed from the directory beside the registry: an editable install of another checkout
    can map the name ``rocsample.ops`` to that checkout's tree when this one has none.
    """
    ops_dir = Path(registry.__file__).parent / "ops"
    out = []
    for info in pkgutil.iter_modules([str(ops_dir)]):
        mod = importlib.import_module(f"rocsample.ops.{info.name}")
        assert Path(mod.__file__ or "").parent == ops_dir, f"{mod.__name__} is {mod.__file__}"
        out.append(mod)
    return out


def contributions() -> list[tuple[str, dict[str, Any], dict[str, Any], int | None]]:
    """(owner, modules by name, entries by entry name, launch block) of every kernel family.

    A family plugs in by exposing ``MODULES`` (objects with ``source``, ``headers`` and
    ``entries``) and ``ENTRIES`` (objects with ``module`` and ``signature``), optional entries
    of its own in ``COMPANIONS`` (the same), and its block as ``BLOCK``, in a module of
    ``rocsample.ops``.
    """
    out: list[tuple[str, dict[str, Any], dict[str, Any], int | None]] = [
        ("rocsample.registry", registry.MODULES,
         {k.entry: k for k in registry.KERNELS.values()}, registry.BLOCK_SIZE)]
    for mod in _ops_modules():
        if hasattr(mod, "MODULES") and hasattr(mod, "ENTRIES"):
            entries = {**mod.ENTRIES, **getattr(mod, "COMPANIONS", {})}
            out.append((mod.__name__, mod.MODULES, entries, getattr(mod, "BLOCK", None)))
    return out


def expected_entries() -> dict[str, Expected]:
    table: dict[str, Expected] = {}
    for owner, modules, entries, block in contributions():
        for name, spec in entries.items():
            want = Expected(name, modules[spec.module].source, tuple(spec.signature),
                            getattr(spec, "block", block), owner)
            seen = table.get(name)
            if seen is not None:
                # The registry serves an ops module's entries as rows of its own: the two
                # must say the same thing, or one of them is stale.
                if (seen.source, seen.signature, seen.block) != (want.source, want.signature,
                                                                want.block):
                    raise AssertionError(f"{name}: {seen.owner} says {seen}, {owner} {want}")
                continue
            table[name] = want
    return table


def all_modules() -> dict[str, Any]:
    """Every module spec of every family, by source file."""
    return {m.source: m for _, modules, _, _ in contributions() for m in modules.values()}


_UNITS: dict[tuple[str, str, str], Unit] = {}


def unit(source: str, toolchain: str, target: str) -> Unit:
    key = (source, toolchain, target)
    if key not in _UNITS:
        _UNITS[key] = Unit(source, toolchain, target)
    return _UNITS[key]


def sources() -> list[str]:
    return sorted(p.name for p in KERNEL_DIR.glob("*.hip"))


def engine_sources() -> list[str]:
    return [s for s in sources() if "rs_engine.h" in unit(s, "hiprtc", "gfx90a").included]


# ---- the tests ----


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_every_expected_entry_is_defined_with_its_signature(toolchain, target):
    problems = []
    for name, want in expected_entries().items():
        u = unit(want.source, toolchain, target)
        got = u.entries.get(name)
        if got is None or not got.extern_c:
            problems.append(f"{name} ({want.owner}): no extern \"C\" __global__ {name} in "
                            f"kernels/{want.source}")
            continue
        have = tuple(zip(got.names, map(u.type_code, got.c_types), strict=True))
        if have != want.signature or got.returns != "void":
            problems.append(f"{name}: kernels/{want.source} has {got.returns} {name}"
                            f"{_show(have)}, {want.owner} says void {name}"
                            f"{_show(want.signature)}")
    assert not problems, "\n".join(problems)


def _show(sig: tuple[tuple[str, str], ...]) -> str:
    return "(" + ", ".join(f"{t} {n}" for n, t in sig) + ")"


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_every_global_in_kernels_is_an_expected_extern_c_entry(toolchain, target):
    table = expected_entries()
    problems = []
    for source in sources():
        for name, e in unit(source, toolchain, target).entries.items():
            if not e.extern_c:
                problems.append(f"kernels/{source}: __global__ {name} is not extern \"C\" "
                                "(a mangled name no loader can look up)")
            elif name not in table or table[name].source != source:
                problems.append(f"kernels/{source}: extern \"C\" __global__ {name} is in no "
                                "registry (add its spec to rocsample.registry or its "
                                "rocsample.ops module)")
    assert not problems, "\n".join(problems)


def _declared_bound(entry: str) -> int | None:
    """The ``LAUNCH_BOUND`` the family of ``entry`` declares apart from the block it launches
    (Candle's elementwise kernels are bounded for Candle's 1024-thread grid and launched by us
    with fewer threads), or None: then its kernels are bounded by exactly that block."""
    for mod in _ops_modules():
        # COMPANIONS: rocsample's own where2 entries share their Candle entries' macro and bound
        listed = {**getattr(mod, "ENTRIES", {}), **getattr(mod, "COMPANIONS", {})}
        if entry in listed and hasattr(mod, "LAUNCH_BOUND"):
            return int(mod.LAUNCH_BOUND)
    return None


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_launch_bounds_admit_the_block_the_host_launches(toolchain, target):
    """A launch with more threads a block than ``__launch_bounds__`` allows fails; a bound
    above the block launched costs registers for nothing unless the family says why."""
    problems = []
    for name, want in expected_entries().items():
        u = unit(want.source, toolchain, target)
        got = u.entries.get(name)
        if got is None or want.block is None:
            continue
        declared = _declared_bound(name)
        for bounds in got.bounds:
            limit = Expr(tokenize(bounds[0]), {}, set()).value()
            if limit < want.block:
                problems.append(f"{name}: __launch_bounds__({limit}) in kernels/{want.source}, "
                                f"but {want.owner} launches blocks of {want.block}")
            elif limit != (declared or want.block):
                problems.append(f"{name}: __launch_bounds__({limit}) in kernels/{want.source}, "
                                f"but {want.owner} declares {declared or want.block}")
        if declared is not None and not got.bounds:
            problems.append(f"{name}: no __launch_bounds__ in kernels/{want.source}, but "
                            f"{want.owner} declares LAUNCH_BOUND = {declared}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_module_headers_are_the_headers_its_source_includes(toolchain, target):
    """The compile hands the listed headers over in memory and hashes them into the cache
    key: one missing fails to compile, one stale costs a rebuild for nothing."""
    problems = []
    for source, spec in all_modules().items():
        included = unit(source, toolchain, target).included
        if set(spec.headers) != set(included) or len(spec.headers) != len(included):
            problems.append(f"{spec.name}: headers {list(spec.headers)}, but kernels/{source} "
                            f"includes {included}")
    assert not problems, "\n".join(problems)
    assert set(all_modules()) == set(sources()), "a kernels/*.hip without a module spec"


def test_module_entries_are_the_entries_declared_for_them():
    for owner, modules, entries, _ in contributions():
        for name, spec in modules.items():
            mine = {e for e, k in entries.items() if k.module == name}
            assert set(spec.entries) == mine and len(spec.entries) == len(mine), (owner, name)


def _mirrors() -> list[tuple[str, int, str]]:
    """(macro, Python value, where Python keeps it) for every engine constant Python mirrors."""
    return [
        ("RS_CHUNK", registry.CHUNK, "registry.CHUNK"),
        ("RS_CHUNK", cpu_kernels.CHUNK, "cpu_kernels.CHUNK"),
        ("RS_HBINS", registry.HBINS, "registry.HBINS"),
        ("RS_HBINS", registry._HBINS, "registry._HBINS"),
        ("RS_KCAND", registry.KCAND, "registry.KCAND"),
        ("RS_RISE_CAND", registry.RISE_CAND, "registry.RISE_CAND"),
        ("RS_RISE_SPAN4", registry.RISE_SPAN[0], "registry.RISE_SPAN[0]"),
        ("RS_RISE_SPAN2", registry.RISE_SPAN[1], "registry.RISE_SPAN[1]"),
        ("RS_KSLOT", registry._KSLOT, "registry._KSLOT"),
        ("RS_CAPC", registry._CAPC, "registry._CAPC"),
        ("RS_WS_HEAD", registry._WS_HEAD, "registry._WS_HEAD"),
        ("RS_VOCAB_MAX", cpu_kernels.VOCAB_MAX, "cpu_kernels.VOCAB_MAX"),
        ("RS_BLOCK", registry.BLOCK_SIZE, "registry.BLOCK_SIZE"),
        ("RS_ABI_VERSION", registry.ABI_VERSION, "registry.ABI_VERSION"),
    ]


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_engine_constants_equal_their_python_mirrors(toolchain, target):
    assert engine_sources(), "no kernels/*.hip includes rs_engine.h"
    problems = []
    for source in engine_sources():
        u = unit(source, toolchain, target)
        for macro, mirror, where in _mirrors():
            if macro not in u.macros:
                problems.append(f"kernels/{source}: {macro} is not defined")
            elif u.value(macro) != mirror:
                problems.append(f"kernels/{source}: {macro} = {u.value(macro)}, "
                                f"rocsample.{where} = {mirror}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_elementwise_constants_equal_their_python_mirrors(toolchain, target):
    from rocsample.ops import elementwise as ew

    for source in sorted({m.source for m in ew.MODULES.values()}):
        u = unit(source, toolchain, target)
        # the grid rocsample launches gives each thread the accesses the kernels keep in flight
        assert u.value("RS_EW_UNROLL") == ew.UNROLL, source
        assert u.value("RS_EW_GROUPS") == ew.GROUPS, source
        assert u.value("RS_EW_ROW_BYTES") == ew.ROW_BYTES, source
        # a strided block's elements are one tile of the transposed-input walk
        assert u.value("RS_EW_TILE") == ew.TILE and ew.TILE ** 2 == ew.BLOCK * ew.UNROLL, source


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_mlp_constants_equal_their_python_mirrors(toolchain, target):
    """The grid rules of rocsample.ops.mlp give a SwiGLU thread the groups it keeps in
    flight, and size blocks as the kernels' __launch_bounds__ allow."""
    from rocsample.ops import mlp

    assert unit("swiglu.hip", toolchain, target).value("RS_SWIGLU_UNROLL") == mlp.SWIGLU_UNROLL
    # the rows the recipes give the row entries are the rows they compute
    u = unit("rms_norm.hip", toolchain, target)
    assert u.value("RS_RMS_ROW_GROUPS") == mlp.ROW_GROUPS
    assert u.value("RS_RMS_ROW8_GROUPS") == mlp.ROW8_GROUPS
    for source in ("swiglu.hip", "rms_norm.hip"):
        assert unit(source, toolchain, target).value("RS_BLOCK") == mlp.BLOCK


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_workspace_size_and_layout_equal_the_engine(toolchain, target):
    """registry.ws_words / ws_prefix_words against rs_ws_words / rs_ws_row, both evaluated
    from the C source, at the edges of their terms (a sub-chunk more; candidates past
    RS_CAPC) and the vocab limits."""
    for source in engine_sources():
        u = unit(source, toolchain, target)
        rs_ws_words = u.function("rs_ws_words")
        chunk, turn = u.value("RS_CHUNK"), u.value("RS_CAPC") // u.value("RS_KSLOT")
        vocabs = {1, chunk - 1, chunk, chunk + 1, turn * chunk, turn * chunk + 1, 32000,
                  128256, 151936, u.value("RS_VOCAB_MAX")}
        for vocab in sorted(vocabs):
            assert registry.ws_words(vocab) == rs_ws_words(vocab), (source, vocab)
            for batch, row in ((1, 0), (3, 0), (3, 2)):
                _, w = u.call("rs_ws_row", 0, batch, row, vocab)  # word offsets from ws = 0
                assert w["w.hist"] == row * registry.HBINS, (source, vocab, batch, row)
                assert w["w.head"] == (registry.ws_prefix_words(batch)
                                       + row * registry.ws_words(vocab)), (source, vocab, row)
            _, w = u.call("rs_ws_row", 0, 3, 2, vocab)  # the last row ends the workspace
            end = w["w.head"] + rs_ws_words(vocab)
            assert registry.ws_total_words(3, vocab) == end, (source, vocab)


@pytest.mark.parametrize("toolchain,target", TARGETS)
def test_no_error_guard_fires_with_the_loader_options(toolchain, target):
    """The kernels' #error guards (block a multiple of the wave, 8 elements a thread in a
    sub-chunk, ...) hold for the registry's block and every target's wave."""
    problems = []
    for source in sources():
        u = unit(source, toolchain, target)
        problems += u.errors
        problems += [f"kernels/{source} defines {n}, which the loader passes" for n in
                     u.redefined]
    assert not problems, "\n".join(problems)


def test_abi_version_is_defined_once():
    """registry.ABI_VERSION is the only place the number is written: the loader passes it
    (-DRS_ABI_VERSION), the kernels name their marker symbol from it and spell no number."""
    for target in ("gfx90a", "sm_90"):
        assert f"-DRS_ABI_VERSION={registry.ABI_VERSION}" in loader_options(target)
    spelled = re.compile(r"ABI[ _]?v(?:ersion)?\s*\d|abi_v\d|RS_ABI_VERSION\s*[!=<>]=?\s*\d",
                         re.I)
    for path in sorted(KERNEL_DIR.iterdir()):
        lines = path.read_text().splitlines() + [""]
        for n, (line, after) in enumerate(zip(lines, lines[1:], strict=False), 1):
            # a line and the next, so that "ABI" at a line's end and "version 3" on the next
            # line of the same comment are read together
            both = line.rstrip() + " " + re.sub(r"^\s*(//)?\s*", "", after)
            assert not spelled.search(both), f"kernels/{path.name}:{n} spells the ABI " \
                f"version; write RS_ABI_VERSION (registry.ABI_VERSION): {both.strip()}"
    package = Path(registry.__file__).parent
    owners = [p.relative_to(package) for p in package.rglob("*.py")
              if re.search(r"^ABI_VERSION\s*(:[^=]*)?=", p.read_text(), re.M)]
    assert owners == [Path("registry.py")]
    for toolchain, target in TARGETS:
        u = unit("sampling_utils.hip", toolchain, target)
        markers = [t for t in u.code if t.startswith("rocsample_abi_v")]
        assert markers == [f"rocsample_abi_v{registry.ABI_VERSION}"], markers


# ---- the reader itself: it must see what a compiler sees ----


def test_reader_sees_macro_generated_multiline_signatures(tmp_path):
    (tmp_path / "defs.h").write_text(
        '#pragma once\n#include "types.h"\n'
        "#define BOUNDS __launch_bounds__(BLK, 2)\n"
        "#define KERNEL(NAME, T)                                     \\\n"
        '    extern "C" __global__ void BOUNDS NAME##_##T(            \\\n'
        "        const T* __restrict__ x, /* in */ my_u64 n, T v) {}\n")
    (tmp_path / "types.h").write_text("#pragma once\ntypedef unsigned long long my_u64;\n")
    (tmp_path / "k.hip").write_text(
        '#include "defs.h"\n#include "types.h"\n'
        "#ifdef __CUDACC_RTC__\nKERNEL(cuda_only, float)\n#endif\n"
        "KERNEL(scale, float)\nKERNEL(scale, double)\n"
        "// extern \"C\" __global__ void commented_out(int a) {}\n"
        "extern \"C\"\n__global__ void\n__launch_bounds__(BLK)\nplain(int a,\n"
        "      long long b,\n      float* const out) {}\n"
        "__global__ void mangled(int a) {}\n")
    hip = Unit("k.hip", "hiprtc", "gfx90a", tmp_path, ["-DBLK=256"])
    assert hip.included == ["defs.h", "types.h"]
    assert sorted(hip.entries) == ["mangled", "plain", "scale_double", "scale_float"]
    s = hip.entries["scale_double"]
    assert (s.extern_c, s.returns, s.names) == (True, "void", ("x", "n", "v"))
    assert [hip.type_code(t) for t in s.c_types] == ["ptr", "u64", "f64"]
    assert s.bounds == (("256", "2"),)
    p = hip.entries["plain"]
    assert [hip.type_code(t) for t in p.c_types] == ["i32", "i64", "ptr"]
    assert p.names == ("a", "b", "out") and p.bounds == (("256",),)
    assert not hip.entries["mangled"].extern_c
    cuda = Unit("k.hip", "nvrtc", "sm_90", tmp_path, ["-DBLK=256"])
    assert "cuda_only_float" in cuda.entries and "cuda_only_float" not in hip.entries


def test_reader_evaluates_c_integer_expressions():
    def ev(text: str, **names: Any) -> int:
        return Expr(tokenize(text), names, _TYPE_WORDS).value()

    assert ev("(1 << 23) + 4096 - 1") == (1 << 23) + 4095
    assert ev("-7 / 2") == -3 and ev("-7 % 2") == -1  # C truncates toward zero
    assert ev("c > 8192 ? c : 8192", c=10000) == 10000
    assert ev("c > 8192 ? c : 8192", c=3) == 8192
    assert ev("(long long)a * 3LL + 0x10u", a=2) == 22
    assert ev("!0 && (2 || 0) == 1") == 1
    with pytest.raises(ValueError, match="unknown name"):
        ev("nope + 1")
