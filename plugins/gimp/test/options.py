"""libnstyle's option table (nstyle_option_find, through ctypes), for the GIMP tests to compare
what the plug-in registered with what the library says, instead of restating the engine's values.

  options.py LIB get KEY FIELD                   print a field (min, max, default_value, accepts, doc, unit)
  options.py LIB same KEY MIN MAX DEFAULT [...]  exit 0 when the numbers equal the option's min,
                                                 max and default; '-' skips one (e.g. size, whose
                                                 argument also takes 0)

  The 'same' form takes any number of KEY MIN MAX DEFAULT groups and prints each comparison.
"""

import ctypes
import sys


class OptionInfo(ctypes.Structure):
    _fields_ = [
        ("key", ctypes.c_char_p),
        ("value_type", ctypes.c_uint32),
        ("effect", ctypes.c_uint32),
        ("min", ctypes.c_double),
        ("max", ctypes.c_double),
        ("words", ctypes.c_char_p),
        ("default_value", ctypes.c_char_p),
        ("unit", ctypes.c_char_p),
        ("doc", ctypes.c_char_p),
        ("accepts", ctypes.c_char_p),
    ]


def find(lib, key):
    info = OptionInfo()
    if lib.nstyle_option_find(key.encode(), ctypes.byref(info)) != 0:
        raise SystemExit(f"no option {key}: {lib.nstyle_last_error().decode()}")
    return info


def field(info, name):
    value = getattr(info, name)
    return value.decode() if isinstance(value, bytes) else value


def main(argv):
    lib = ctypes.CDLL(argv[1])
    lib.nstyle_last_error.restype = ctypes.c_char_p
    cmd, args = argv[2], argv[3:]
    if cmd == "get":
        value = field(find(lib, args[0]), args[1])
        print(f"{value:g}" if isinstance(value, float) else value)
        return True
    if cmd == "same":
        ok = True
        for i in range(0, len(args), 4):
            key, got = args[i], args[i + 1 : i + 4]
            info = find(lib, key)
            want = [info.min, info.max, float(info.default_value.decode())]
            for name, g, w in zip(("min", "max", "default"), got, want):
                if g == "-":
                    continue
                same = float(g) == w
                ok &= same
                print(f"{key} {name}: registered {g}, library {w:g} {'ok' if same else 'DIFFERENT'}")
        return ok
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv) else 1)
