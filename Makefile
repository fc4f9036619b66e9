# Shortcuts; each target calls the script that does the work.
.PHONY: setup demo test lint bench bench-build bench-growth bench-gates bench-anomalies bench-celery

setup:  ## venv, pinned packages, a reachable MariaDB, Airflow metadata DB
	bash scripts/setup.sh

demo:   ## the whole pipeline, 12 months through Airflow, then the risk summary
	./scripts/demo.sh

test:   ## lint + every test layer (what CI runs)
	./scripts/test.sh

bench:  ## load benchmark: project path vs pandas.to_sql vs the CLI's LOAD DATA
	bash -c 'source scripts/setup.sh && python benchmarks/load_benchmark.py'

bench-build:  ## full rebuild: the servers' 16 MB temporary tables vs the project's setting
	bash -c 'source scripts/setup.sh && python benchmarks/build_benchmark.py'

bench-growth:  ## refresh growth: the whole chain month after month for 24 months, then a reload
	bash -c 'source scripts/setup.sh && python benchmarks/refresh_growth.py'

bench-gates:  ## distribution gates: false alarms and detection from 50 to 100,000 customers
	bash -c 'source scripts/setup.sh && python benchmarks/gate_benchmark.py'

bench-anomalies:  ## anomaly detectors: precision/recall per kind on the main and the hold-out source
	bash -c 'source scripts/setup.sh && python benchmarks/anomaly_evaluation.py'

bench-celery:  ## the DAG under a real CeleryExecutor: a backfill on 1 and on 2 workers
	bash -c 'source scripts/setup.sh && python benchmarks/celery_workers.py'
