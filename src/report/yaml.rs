//! YAML: the JSON contract, same fields, through serde_yaml_ng.

pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    serde_yaml_ng::to_string(value).expect("report types serialise")
}

#[cfg(test)]
mod tests {
    use crate::report::{render_report, testdata, Format, RenderOptions};

    #[test]
    fn yaml_report_golden() {
        for (name, (report, profile)) in testdata::all() {
            let out = render_report(&report, &profile, Format::Yaml, &RenderOptions::default());
            let back: crate::model::Report = serde_yaml_ng::from_str(&out).unwrap();
            assert_eq!(back, report, "{name} round-trips");
            insta::assert_snapshot!(format!("yaml_{name}"), out);
        }
    }
}
