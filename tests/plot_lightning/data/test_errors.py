from plot_lightning.data.errors import DataValidationError, RowProblem


def test_message_names_file_row_and_field():
    error = DataValidationError("data.jsonl", 3, "chosen", "empty string")
    assert isinstance(error, ValueError)
    assert str(error) == "data.jsonl: row 3: field 'chosen': empty string"
    assert (error.file, error.row, error.field, error.reason) == ("data.jsonl", 3, "chosen", "empty string")


def test_row_problem_keeps_field_and_reason():
    problem = RowProblem("prompt", "missing")
    assert (problem.field, problem.reason) == ("prompt", "missing")
