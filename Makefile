# emotion-edge: `make demo` to see it work, `make test` to check everything.
PYTHON ?= python3
PIP_FLAGS ?= -q --disable-pip-version-check
VENV := .venv
DEVICE_VENV := .venv-device
DATA ?= ../shared/data
RUN_DIR ?= runs/emotion5
DEMO_OUT := out/demo

# The recorded commands that produced models/emotion5 (see its card).
TRAIN_CMD := emotion-train train --arch edge --label-set emotion5 --labels ferplus-soft --epochs 16 --out $(RUN_DIR)
CONVERT_CMD := emotion-convert $(RUN_DIR)/model.keras --name emotion5 --out-dir models --float-tflite $(RUN_DIR)/emotion5.float.tflite

.PHONY: help setup demo test test-device test-workstation lint train convert models clean

help:
	@echo "make demo    set up the device venv and classify a real face with the bundled model"
	@echo "make test    set up both venvs and run every test"
	@echo "make setup   build $(DEVICE_VENV) (device only, no TensorFlow) and $(VENV) (everything)"
	@echo "make train   retrain the bundled emotion5 network into $(RUN_DIR)"
	@echo "make convert quantize $(RUN_DIR)/model.keras to models/emotion5.tflite + card"
	@echo "make lint    ruff"

setup: $(DEVICE_VENV)/.done $(VENV)/.done

# The Pi's view of the project: the device package alone. Its tests prove TensorFlow is absent.
$(DEVICE_VENV)/.done: device/pyproject.toml
	$(PYTHON) -m venv $(DEVICE_VENV)
	$(DEVICE_VENV)/bin/pip install $(PIP_FLAGS) -e "device[test]"
	touch $@

$(VENV)/.done: device/pyproject.toml train/pyproject.toml convert/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install $(PIP_FLAGS) -e "device[test]" -e train -e convert "ruff>=0.6"
	touch $@

demo: $(DEVICE_VENV)/.done
	@mkdir -p $(DEMO_OUT)
	$(DEVICE_VENV)/bin/python -c "import cv2, skimage.data; cv2.imwrite('$(DEMO_OUT)/astronaut.png', skimage.data.astronaut()[:, :, ::-1])"
	$(DEVICE_VENV)/bin/emotion-device classify $(DEMO_OUT)/astronaut.png --annotate $(DEMO_OUT)/astronaut.annotated.png
	@echo "annotated image: $(DEMO_OUT)/astronaut.annotated.png"

test: test-device test-workstation

test-device: $(DEVICE_VENV)/.done
	$(DEVICE_VENV)/bin/python -m pytest tests/device

test-workstation: $(VENV)/.done
	EMOTION_DATA=$(DATA) $(VENV)/bin/python -m pytest tests/train tests/convert

lint: $(VENV)/.done
	$(VENV)/bin/ruff check device train convert tests

train: $(VENV)/.done
	EMOTION_DATA=$(DATA) PATH=$(VENV)/bin:$$PATH $(TRAIN_CMD)

convert: $(VENV)/.done
	EMOTION_DATA=$(DATA) PATH=$(VENV)/bin:$$PATH $(CONVERT_CMD)

models: train convert

clean:
	rm -rf $(VENV) $(DEVICE_VENV) out .pytest_cache
