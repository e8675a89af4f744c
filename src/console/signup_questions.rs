//! The signup form's questions as rows of a form (no JSON): each question's text,
//! whether it must be answered, and its answers one per line, an answer optionally
//! followed by `=>` and the tags it gives (`18–24 => young, student`). A question keeps
//! its id and an answer its value while its text stays the same, so answers given
//! before still match.

use std::collections::HashMap;

use maud::{Markup, html};

use crate::members::consent::{AnswerOption, Question};
use crate::tenants::model::Language;
use crate::web::{field_error, t};

pub type Fields = HashMap<String, String>;

/// The rows' fields from saved questions, with one blank row to add a question.
pub fn fields_of(questions: &[Question]) -> Fields {
    let mut f = Fields::new();
    for (i, q) in questions.iter().enumerate() {
        f.insert(format!("q{i}_id"), q.id.clone());
        f.insert(format!("q{i}_label"), q.label.clone());
        if q.required {
            f.insert(format!("q{i}_required"), "on".into());
        }
        let answers: Vec<String> = q
            .options
            .iter()
            .map(|o| {
                if o.tags.is_empty() {
                    o.label.clone()
                } else {
                    format!("{} => {}", o.label, o.tags.join(", "))
                }
            })
            .collect();
        f.insert(format!("q{i}_answers"), answers.join("\n"));
    }
    f.insert("q_count".into(), (questions.len() + 1).to_string());
    f
}

/// The questions the rows describe. `saved` gives the values answers had, so an answer
/// whose text is unchanged keeps its value. Errors name the row's field.
pub fn questions_from(
    f: &Fields,
    saved: &[Question],
) -> Result<Vec<Question>, (String, &'static str)> {
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let count: usize = get("q_count").parse().unwrap_or(0).min(50);
    let mut questions: Vec<Question> = vec![];
    for i in 0..count {
        let k = |s: &str| format!("q{i}_{s}");
        let (label, answers) = (get(&k("label")), get(&k("answers")));
        if !get(&k("remove")).is_empty() || (label.is_empty() && answers.is_empty()) {
            continue;
        }
        if label.is_empty() || label.chars().count() > 200 {
            return Err((k("label"), "sq_label"));
        }
        let before = saved
            .iter()
            .find(|q| !get(&k("id")).is_empty() && q.id == get(&k("id")));
        let mut options: Vec<AnswerOption> = vec![];
        for line in answers.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (text, tags) = match line.split_once("=>") {
                Some((text, tags)) => (text.trim(), tags),
                None => (line, ""),
            };
            let tags: Vec<String> = tags
                .split(',')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect();
            if text.is_empty() || text.chars().count() > 200 {
                return Err((k("answers"), "sq_answer"));
            }
            if tags
                .iter()
                .any(|t| crate::members::model::Tag::parse(t).is_err())
            {
                return Err((k("answers"), "sq_tags"));
            }
            let value = before
                .and_then(|q| q.options.iter().find(|o| o.label == text))
                .map(|o| o.value.clone())
                .unwrap_or_else(|| {
                    let mut n = options.len() + 1;
                    while options.iter().any(|o| o.value == format!("a{n}"))
                        || before
                            .is_some_and(|q| q.options.iter().any(|o| o.value == format!("a{n}")))
                    {
                        n += 1;
                    }
                    format!("a{n}")
                });
            options.push(AnswerOption {
                value,
                label: text.to_string(),
                tags,
            });
        }
        if options.is_empty() {
            return Err((k("answers"), "sq_no_answers"));
        }
        let id = match before {
            Some(q) => q.id.clone(),
            None => {
                let mut n = i + 1;
                while saved
                    .iter()
                    .chain(&questions)
                    .any(|q| q.id == format!("q{n}"))
                {
                    n += 1;
                }
                format!("q{n}")
            }
        };
        questions.push(Question {
            id,
            label,
            required: !get(&k("required")).is_empty(),
            options,
        });
    }
    Ok(questions)
}

/// The question rows, an error under the field it names.
pub fn rows(lang: Language, f: &Fields, error: Option<(&str, &str)>) -> Markup {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let count: usize = get("q_count").parse().unwrap_or(1).clamp(1, 50);
    let error_of = |field: &str| {
        error
            .filter(|(e, _)| *e == field)
            .map(|(_, w)| w.to_string())
    };
    html! {
        input type="hidden" name="q_count" value=(count);
        @for i in 0..count {
            @let k = |s: &str| format!("q{i}_{s}");
            @let new = i + 1 == count;
            fieldset.question id=(k("row")) {
                legend { @if new { (t(lang, "sq_new")) } @else { (get(&k("label"))) } }
                input type="hidden" name=(k("id")) value=(get(&k("id")));
                label for=(k("label")) { (t(lang, "sq_question")) }
                input id=(k("label")) name=(k("label")) value=(get(&k("label"))) aria-describedby=(format!("{}-error", k("label")));
                (field_error(&k("label"), error_of(&k("label")).as_deref()))
                label for=(k("answers")) { (t(lang, "sq_answers")) }
                textarea id=(k("answers")) name=(k("answers")) rows="4" aria-describedby=(format!("{}-note {}-error", k("answers"), k("answers"))) { (get(&k("answers"))) }
                p.muted id=(format!("{}-note", k("answers"))) { (t(lang, "sq_answers_note")) }
                (field_error(&k("answers"), error_of(&k("answers")).as_deref()))
                label.choice { input type="checkbox" name=(k("required")) checked[!get(&k("required")).is_empty()]; " " (t(lang, "sq_required")) }
                @if !new { label.choice { input type="checkbox" name=(k("remove")); " " (t(lang, "sq_remove")) } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> Vec<Question> {
        vec![Question {
            id: "age".into(),
            label: "อายุ".into(),
            required: true,
            options: vec![
                AnswerOption {
                    value: "u25".into(),
                    label: "ต่ำกว่า 25".into(),
                    tags: vec!["young".into()],
                },
                AnswerOption {
                    value: "o25".into(),
                    label: "25 ขึ้นไป".into(),
                    tags: vec![],
                },
            ],
        }]
    }

    #[test]
    fn the_rows_read_back_what_they_show_and_keep_ids_and_values() {
        let saved = saved();
        assert_eq!(questions_from(&fields_of(&saved), &saved).unwrap(), saved);
        let mut f = fields_of(&saved);
        f.insert(
            "q0_answers".into(),
            "ต่ำกว่า 25 => young, student\n25 ขึ้นไป\n60 ขึ้นไป => senior".into(),
        );
        f.insert("q1_label".into(), "ดื่มกาแฟบ่อยแค่ไหน".into());
        f.insert("q1_answers".into(), "ทุกวัน\nบางวัน".into());
        let read = questions_from(&f, &saved).unwrap();
        assert_eq!(
            read[0].options[0].value, "u25",
            "an unchanged answer keeps its value"
        );
        assert_eq!(read[0].options[0].tags, ["young", "student"]);
        assert_eq!(read[0].options[2].value, "a3");
        assert_eq!((read[1].id.as_str(), read[1].options.len()), ("q2", 2));
        f.insert("q1_answers".into(), "".into());
        assert_eq!(
            questions_from(&f, &saved).unwrap_err(),
            ("q1_answers".into(), "sq_no_answers")
        );
        f.insert("q0_remove".into(), "on".into());
        f.insert("q1_label".into(), "".into());
        assert!(
            questions_from(&f, &saved).unwrap().is_empty(),
            "removed, and the blank row"
        );
    }
}
