"""The official Triton HTTP client (tritonclient[http]) against itemserve's
Open Inference Protocol routes, used the way its documentation shows.

Run by scripts/test against a running server whose address is in
ITEMSERVE_URL (host:port, as the client takes it).
"""

import json
import os
import urllib.parse
import urllib.request

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

URL = os.environ.get("ITEMSERVE_URL", "127.0.0.1:3000")

# What the original FastAPI app answers for its example request.
ORIGINAL_ANSWER = 6.876654844185817


@pytest.fixture(scope="module")
def client():
    with httpclient.InferenceServerClient(url=URL) as c:
        yield c


def test_the_server_is_live_and_ready(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("linear")
    assert client.is_model_ready("iris")
    assert not client.is_model_ready("no-such-model")


def test_server_metadata_lists_the_binary_extension(client):
    metadata = client.get_server_metadata()
    assert metadata["name"] == "itemserve"
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_metadata_describes_the_tensors(client):
    metadata = client.get_model_metadata("iris")
    assert metadata["name"] == "iris"
    assert metadata["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]
    assert [o["name"] for o in metadata["outputs"]] == ["label", "probabilities"]
    version = metadata["versions"][0]
    assert client.get_model_metadata("iris", model_version=version)["name"] == "iris"


def linear_input(rows, binary_data):
    data = np.array(rows, dtype=np.float64)
    tensor = httpclient.InferInput("input", list(data.shape), "FP64")
    tensor.set_data_from_numpy(data, binary_data=binary_data)
    return tensor


@pytest.mark.parametrize("binary_data", [True, False], ids=["binary", "json"])
def test_linear_answers_the_original_example(client, binary_data):
    result = client.infer(
        "linear",
        [linear_input([[1.5, 2.3, 0.8], [0.0, 0.0, 0.0]], binary_data)],
        outputs=[httpclient.InferRequestedOutput("variable", binary_data=binary_data)],
        request_id="req-7",
    )
    values = result.as_numpy("variable")
    assert values.shape == (2, 1)
    assert values.dtype == np.float64
    assert abs(values[0, 0] - ORIGINAL_ANSWER) < 1e-9
    assert result.get_response()["id"] == "req-7"


def test_all_outputs_come_back_when_none_are_named(client):
    # With no outputs named, the client asks for every output in binary.
    result = client.infer("linear", [linear_input([[1.5, 2.3, 0.8]], True)])
    assert abs(result.as_numpy("variable")[0, 0] - ORIGINAL_ANSWER) < 1e-9


@pytest.mark.parametrize("binary_data", [True, False], ids=["binary", "json"])
def test_iris_classifies_a_setosa(client, binary_data):
    flower = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    tensor = httpclient.InferInput("input", list(flower.shape), "FP32")
    tensor.set_data_from_numpy(flower, binary_data=binary_data)
    result = client.infer(
        "iris",
        [tensor],
        outputs=[
            httpclient.InferRequestedOutput("label", binary_data=binary_data),
            httpclient.InferRequestedOutput("probabilities", binary_data=binary_data),
        ],
    )
    labels = result.as_numpy("label")
    probabilities = result.as_numpy("probabilities")
    assert labels.dtype == np.int64
    assert labels.tolist() == [0, 2]
    assert probabilities.shape == (2, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_a_batch_of_10000_rows_in_binary(client):
    rng = np.random.default_rng(7)
    rows = rng.random((10_000, 3)) * 10
    result = client.infer(
        "linear",
        [linear_input(rows, True)],
        outputs=[httpclient.InferRequestedOutput("variable", binary_data=True)],
    )
    values = result.as_numpy("variable")
    assert values.shape == (10_000, 1)
    # The same rows one at a time through JSON give the same answers.
    for i in (0, 4_999, 9_999):
        single = client.infer("linear", [linear_input(rows[i : i + 1], False)])
        assert single.as_numpy("variable")[0, 0] == values[i, 0]


def test_an_unknown_model_is_an_error_naming_it(client):
    with pytest.raises(InferenceServerException) as raised:
        client.infer("no-such-model", [linear_input([[1.0, 2.0, 3.0]], True)])
    assert "Model 'no-such-model' not found" in raised.value.message()
    assert raised.value.status() == "404"


def test_an_overflowing_result_is_an_error_not_a_value(client):
    with pytest.raises(InferenceServerException) as raised:
        client.infer("linear", [linear_input([[1e308, 1e308, 1e308]], True)])
    assert "not a finite number" in raised.value.message()
    assert raised.value.status() == "422"


def editor_headers():
    """An admin's bearer token when the server has logins (scripts/test
    starts it with ITEMSERVE_ADMIN_PASSWORD): the repository is for editors
    and admins."""
    password = os.environ.get("ITEMSERVE_ADMIN_PASSWORD")
    if not password:
        return {}
    form = urllib.parse.urlencode({"username": "admin", "password": password}).encode()
    with urllib.request.urlopen(f"http://{URL}/auth/token", data=form) as response:
        token = json.load(response)["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_model_repository_lists_unloads_and_loads(client):
    assert "model_repository" in client.get_server_metadata()["extensions"]
    headers = editor_headers()
    if headers:
        with pytest.raises(InferenceServerException) as raised:
            client.get_model_repository_index()
        assert raised.value.status() == "401"
    index = {m["name"]: m for m in client.get_model_repository_index(headers=headers)}
    assert index["iris"] == {"name": "iris", "version": "1.0.0", "state": "READY", "reason": ""}

    client.unload_model("iris", headers=headers)
    try:
        assert not client.is_model_ready("iris")
        index = {m["name"]: m for m in client.get_model_repository_index(headers=headers)}
        assert index["iris"]["state"] == "UNAVAILABLE"
        assert index["iris"]["reason"] == "unloaded"
        setosa = httpclient.InferInput("input", [1, 4], "FP32")
        setosa.set_data_from_numpy(np.array([[5.1, 3.5, 1.4, 0.2]], dtype=np.float32))
        with pytest.raises(InferenceServerException) as raised:
            client.infer("iris", [setosa])
        assert "unloaded" in raised.value.message()
        assert raised.value.status() == "503"
        assert client.is_model_ready("linear")
    finally:
        client.load_model("iris", headers=headers)
    assert client.is_model_ready("iris")

    with pytest.raises(InferenceServerException) as raised:
        client.load_model("no-such-model", headers=headers)
    assert "Model 'no-such-model' not found" in raised.value.message()
    # Uploading a model with the request is refused, saying so.
    with pytest.raises(InferenceServerException) as raised:
        client.load_model(
            "iris",
            headers=headers,
            config='{"backend": "onnxruntime"}',
            files={"file:1/model.onnx": b"\x00"},
        )
    assert "not supported" in raised.value.message()
    assert client.is_model_ready("iris")
