//! CloudFormation templates, JSON or YAML, as `cdk synth` writes them: every
//! `AWS::ECS::TaskDefinition` resource, read as a task definition in PascalCase.

use anyhow::Result;
use serde_yaml_ng::Value;

use super::ecs::Task;
use super::model::{Deployment, SpecKind};
use super::reader::Spec;

const TASK_DEFINITION: &str = "AWS::ECS::TaskDefinition";

pub(super) fn read(spec: &Spec, template: &Value) -> Result<Deployment> {
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten();
    let mut fargate = false;
    let mut targets = vec![];
    let mut from_line = spec.key_line(0, "Resources").unwrap_or(0);
    for (id, resource) in resources {
        let Some(id) = id.as_str() else { continue };
        if resource.get("Type").and_then(Value::as_str) != Some(TASK_DEFINITION) {
            continue;
        }
        from_line = spec.key_line(from_line, id).unwrap_or(from_line);
        let properties = resource.get("Properties").unwrap_or(&Value::Null);
        let task = Task {
            spec,
            definition: properties,
            path: format!("Resources.{id}.Properties"),
            from_line,
            pascal: true,
        };
        let (requires_fargate, found) = task.targets()?;
        fargate |= requires_fargate;
        targets.extend(found);
    }
    if targets.is_empty() {
        return Err(spec.fail(format!(
            "Resources: no {TASK_DEFINITION}, so no containers to audit; give the template \
             that defines the task (cdk synth writes one per stack)"
        )));
    }
    Ok(Deployment {
        kind: SpecKind::CloudFormation { fargate },
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{error, read_file, read_text};
    use crate::model::TmpfsSpec;
    use crate::probe::Probe;

    use super::*;

    const IMAGE: [(&str, &str); 1] = [("webhook", "rofs-audit-seed/webhook:before")];

    #[test]
    fn the_seed_template_gives_the_webhook_as_deployed() {
        let deployment = read_file("seed.template.json", &IMAGE).unwrap();
        assert_eq!(deployment.kind, SpecKind::CloudFormation { fargate: true });
        assert_eq!(deployment.kind.profile(), "ecs-fargate");
        let [web] = &deployment.targets[..] else {
            panic!("{:?}", deployment.targets)
        };
        assert_eq!(web.name, "webhook");
        assert_eq!(
            web.location.path,
            "Resources.WebhookTaskDefinition6C8A2C47.Properties.ContainerDefinitions[0]"
        );
        assert_eq!(web.location.line, Some(90));
        assert_eq!(web.image, "rofs-audit-seed/webhook:before");
        assert_eq!(web.cmd, None);
        assert_eq!(web.user.as_deref(), Some("1000"));
        assert_eq!(web.ports, [5000]);
        assert_eq!(
            web.env,
            [
                "FLASK_ENV=production",
                "LOG_LEVEL=INFO",
                "QUEUE_URL=<from Ref>",
                "BENCHLING_CLIENT_SECRET=<from secret arn:aws:secretsmanager:us-east-1:712023778557:secret:benchling-webhook>",
            ]
        );
        assert_eq!(web.placeholders, ["QUEUE_URL", "BENCHLING_CLIENT_SECRET"]);
        assert_eq!(
            web.probes,
            [Probe::Exec(vec![
                "/bin/sh".into(),
                "-c".into(),
                "python3 -c \"import urllib.request as u; \
                 u.urlopen('http://localhost:5000/health'); \
                 u.urlopen('http://localhost:5000/health/ready')\""
                    .into()
            ])]
        );
        assert_eq!(web.mounts, [] as [TmpfsSpec; 0]);
        assert!(!web.read_only);
        // The container sets no memory of its own: the task's.
        assert_eq!(web.memory_mib, Some(2048));
    }

    #[test]
    fn an_image_from_an_asset_needs_an_override_and_the_error_says_how() {
        let err = read_file("seed.template.json", &[])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "seed.template.json:90: \
             Resources.WebhookTaskDefinition6C8A2C47.Properties.ContainerDefinitions[0].Image: \
             the image is given by Fn::Sub, which only CloudFormation resolves; give it as \
             --image webhook=REF"
        );
    }

    #[test]
    fn a_yaml_template_with_short_intrinsics_reads_alike() {
        let text = "\
AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
  Task:
    Type: AWS::ECS::TaskDefinition
    Properties:
      RequiresCompatibilities: [EC2]
      ContainerDefinitions:
        - Name: api
          Image: !Join [':', [!Ref Repo, latest]]
          ReadonlyRootFilesystem: true
          Memory: 256
          LinuxParameters:
            Tmpfs:
              - ContainerPath: /run
                Size: 8
";
        let err = read_text("t.yaml", text, &[]).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.yaml:10: Resources.Task.Properties.ContainerDefinitions[0].Image: the image is \
             given by Fn::Join, which only CloudFormation resolves; give it as --image api=REF"
        );
        let deployment = read_text("t.yaml", text, &[("api", "api:1")]).unwrap();
        assert_eq!(deployment.kind.profile(), "ecs-ec2");
        let api = &deployment.targets[0];
        assert_eq!(api.image, "api:1");
        assert!(api.read_only);
        assert_eq!(api.memory_mib, Some(256));
        assert_eq!(api.mounts, [TmpfsSpec::new("/run", "size=8m")]);
    }

    #[test]
    fn a_template_without_a_task_definition_is_refused() {
        assert_eq!(
            error(
                "t.yaml",
                "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n"
            ),
            "t.yaml: Resources: no AWS::ECS::TaskDefinition, so no containers to audit; give \
             the template that defines the task (cdk synth writes one per stack)"
        );
    }
}
