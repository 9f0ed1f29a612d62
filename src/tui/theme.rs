//! Themes: three built in (themes/*.toml, embedded), and the user's `themes/NAME.toml` in
//! the workspace merged over the built-in of the same name (or over the dark one).

use std::path::Path;
use std::str::FromStr;

use ratatui::style::Color;

pub const BUILTIN: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

macro_rules! theme_fields {
    ($($f:ident),*) => {
        #[derive(Clone, Debug, PartialEq)]
        pub struct Theme {
            pub name: String,
            $(pub $f: Color,)*
        }

        fn apply(theme: &mut Theme, table: &toml::Table, file: &str) -> Result<(), String> {
            for (k, v) in table {
                let slot = match k.as_str() {
                    $(stringify!($f) => &mut theme.$f,)*
                    other => return Err(format!("{file}: unknown theme key {other:?}")),
                };
                let text = v.as_str().ok_or_else(|| format!("{file}: {k} must be a colour in quotes"))?;
                *slot = Color::from_str(text).map_err(|_| format!("{file}: {k} = {text:?} is not a colour"))?;
            }
            Ok(())
        }
    };
}

theme_fields!(
    bg,
    fg,
    dim,
    accent,
    border,
    border_focus,
    selected_bg,
    user,
    assistant,
    tool,
    system,
    ok,
    warn,
    error,
    badge_fg,
    badge_bg
);

fn parse_table(text: &str, file: &str) -> Result<toml::Table, String> {
    text.parse::<toml::Table>().map_err(|e| format!("{file}: {}", e.message()))
}

impl Theme {
    fn blank(name: &str) -> Theme {
        Theme {
            name: name.to_string(),
            bg: Color::Reset,
            fg: Color::Reset,
            dim: Color::Reset,
            accent: Color::Reset,
            border: Color::Reset,
            border_focus: Color::Reset,
            selected_bg: Color::Reset,
            user: Color::Reset,
            assistant: Color::Reset,
            tool: Color::Reset,
            system: Color::Reset,
            ok: Color::Reset,
            warn: Color::Reset,
            error: Color::Reset,
            badge_fg: Color::Reset,
            badge_bg: Color::Reset,
        }
    }

    /// A built-in theme by name.
    pub fn builtin(name: &str) -> Option<Theme> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let mut t = Theme::blank(name);
        apply(&mut t, &parse_table(text, name).expect("built-in themes parse"), name).expect("built-in themes apply");
        Some(t)
    }

    /// The theme `name`: the workspace's `themes/NAME.toml` over the built-in of that name
    /// (or over dark when there is none). An unknown name with no file is an error.
    pub fn load(workspace: &Path, name: &str) -> Result<Theme, String> {
        let file = workspace.join("themes").join(format!("{name}.toml"));
        let base = Theme::builtin(name);
        if !file.exists() {
            return base.ok_or_else(|| {
                format!(
                    "no theme {name:?}: the built-in ones are {}, and {} does not exist",
                    Theme::names(workspace).join(", "),
                    file.display()
                )
            });
        }
        let label = file.display().to_string();
        let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {label}: {e}"))?;
        let mut t = base.unwrap_or_else(|| Theme::builtin("dark").expect("dark is built in"));
        t.name = name.to_string();
        apply(&mut t, &parse_table(&text, &label)?, &label)?;
        Ok(t)
    }

    /// Every theme name: the built-in ones, then the workspace's own.
    pub fn names(workspace: &Path) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN.iter().map(|(n, _)| n.to_string()).collect();
        if let Ok(dir) = std::fs::read_dir(workspace.join("themes")) {
            let mut extra: Vec<String> = dir
                .filter_map(std::result::Result::ok)
                .filter_map(|e| e.file_name().to_str()?.strip_suffix(".toml").map(str::to_string))
                .filter(|n| !names.contains(n))
                .collect();
            extra.sort();
            names.extend(extra);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_theme_merges_over_the_builtin_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("themes")).unwrap();
        std::fs::write(dir.path().join("themes/dark.toml"), "accent = \"#010203\"\n").unwrap();
        let t = Theme::load(dir.path(), "dark").unwrap();
        assert_eq!(t.accent, Color::Rgb(1, 2, 3));
        assert_eq!(t.user, Theme::builtin("dark").unwrap().user);
        std::fs::write(dir.path().join("themes/mine.toml"), "acent = \"red\"\n").unwrap();
        let e = Theme::load(dir.path(), "mine").unwrap_err();
        assert!(e.contains("mine.toml") && e.contains("acent"), "{e}");
        assert!(Theme::load(dir.path(), "nope").unwrap_err().contains("no theme"));
        assert_eq!(Theme::names(dir.path()), ["dark", "light", "high-contrast", "mine"]);
    }
}
