"""Demo-only code: nothing in the product needs it, and no product package imports it.

- `demo.web`: the local demo web (forums of several engines, a news site, feeds, Telegram pages) that
  `brandmon demo` and `brandmon demo-web` serve on 127.0.0.1, and that the tests crawl;
- `demo.standins`: local stand-ins for the VK API, the YouTube Data API and two review sites, mounted on the demo
  web;
- `demo.synthetic`: a generator of large synthetic databases for the dashboard's tests, screenshots and
  benchmarks.

`flows.demo` (the `brandmon demo` command) and `brandmon.cli.demoweb_cmds` are the only product modules that use
it; tests/foundation/test_layers.py holds every other package to that.
"""
