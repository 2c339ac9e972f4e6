from warmpool.domain.model import MatchKey

JOB = {
    "RoleArn": "arn:aws:iam::123456789012:role/train",
    "ResourceConfig": {"InstanceType": "ml.g5.2xlarge", "InstanceCount": 2, "VolumeSizeInGB": 50},
    "VpcConfig": {"Subnets": ["subnet-b", "subnet-a"], "SecurityGroupIds": ["sg-1"]},
    "EnableNetworkIsolation": False,
}


def test_subnet_order_does_not_matter() -> None:
    other = {**JOB, "VpcConfig": {"Subnets": ["subnet-a", "subnet-b"], "SecurityGroupIds": ["sg-1"]}}
    assert MatchKey.from_training_job(JOB) == MatchKey.from_training_job(other)
    assert MatchKey.from_training_job(JOB).digest() == MatchKey.from_training_job(other).digest()


def test_differences_name_the_aws_fields() -> None:
    other = {**JOB, "ResourceConfig": {**JOB["ResourceConfig"], "VolumeSizeInGB": 100}}  # type: ignore[dict-item]
    diff = MatchKey.from_training_job(JOB).differences(MatchKey.from_training_job(other))
    assert diff == ["ResourceConfig.VolumeSizeInGB"]


def test_round_trip_through_dict() -> None:
    key = MatchKey.from_training_job(JOB)
    assert MatchKey.from_dict(key.to_dict()) == key
