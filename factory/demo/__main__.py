"""`python -m factory.demo --out datasets/demo`: regenerate the demo's data (see `factory.demo.build`)."""

from factory.demo.build import main

main()
