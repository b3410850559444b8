# One command each: set up, run, test. See README.md.
PYTHON ?= python3
RASA := .venv-rasa/bin/rasa
SVC := .venv-services/bin/python
N ?= 2
export RASA_TELEMETRY_ENABLED := false

.PHONY: setup run run-scaled demo test lint validate train knowledge conversation-tests eval-nlu eval-routing eval-knowledge eval-sentiment \
	bench-latency bench-load bench-startup bench-verification bench-soak bench-knowledge bench-handoff bench-telegram bench-widget clean

setup:  ## create/update both virtual environments from the locks, seed the demo shop
	$(PYTHON) scripts/setup.py

run:  ## train if the data changed, start action server + Rasa (REST) with embedded defaults
	$(SVC) -m bot run

run-scaled:  ## N Rasa + N action servers behind nginx on PostgreSQL and Redis (Debian, installed if missing)
	$(SVC) -m bot run-scaled --replicas $(N)

demo:  ## a simulated day (200 conversations) in var/demo, then the supervisor dashboard
	$(SVC) -m bot demo

test:  ## everything CI runs: lint, data validation, training, conversation tests, pytest
	bash scripts/test.sh

lint:  ## what CI lints: ruff, mypy in the services' environment and in Rasa's
	bash scripts/lint.sh

validate:
	.venv-rasa/bin/python scripts/validate_data.py

train:  ## train only if no model matches config, domain and data
	$(SVC) -m bot train

knowledge:  ## rebuild the knowledge index (only changed articles are embedded again)
	$(SVC) -m knowledge build

conversation-tests:
	$(RASA) test core --stories tests --fail-on-prediction-errors --out results/conversations \
	    --model $$($(SVC) -c "from bot.processes import newest_model; print(newest_model())")

eval-nlu:  ## intent accuracy and macro-F1 per language on the held-out set
	.venv-rasa/bin/python bench/nlu_holdout.py

eval-routing:  ## policy questions answered with the right article, requests starting their job, per language
	$(SVC) bench/routing_eval.py

eval-knowledge:  ## recall@1/@5, MRR, CLINC150 false acceptance, retrieval latency
	$(SVC) -m knowledge eval

eval-sentiment:  ## per-class F1, angry recall and calm escalated per language (held-out), cost per message
	$(SVC) -m sentiment eval

bench-latency:  ## REST round-trip latency of a message that runs a custom action
	$(SVC) bench/rest_latency.py

bench-load:  ## 1, 10, 50 concurrent customers over REST and the widget: messages/s, p50/p95/p99, errors, CPU
	$(SVC) bench/load.py $(ARGS)

bench-startup:  ## launch to ready for the whole stack and each process (3 starts), memory once ready
	$(SVC) bench/startup.py $(ARGS)

bench-verification:  ## an attacker guessing one order's contact from many conversations and clients: attempts let through
	$(SVC) bench/verification_attack.py $(ARGS)

bench-soak:  ## 20 min of customers while Rasa, actions and handoff are SIGKILLed in turn: nothing lost
	$(SVC) bench/soak.py $(ARGS)

bench-handoff:  ## escalation -> agent console, agent reply -> customer (p50/p95)
	$(SVC) bench/handoff_latency.py

bench-telegram:  ## Telegram update -> bot reply stored by the Bot API emulator (p50/p95/max)
	$(SVC) bench/telegram_latency.py

bench-widget:  ## Enter -> answer bubble in the real widget in headless Chromium (p50/p95)
	$(SVC) bench/widget_latency.py

bench-knowledge:  ## exact vs approximate index: latency, recall, memory at 1k to 1M passages
	$(SVC) bench/knowledge_index.py

clean:
	rm -rf results var/*.db
