//! Arrays and Python tuples, and members written directly inside an array
//! (`["a": 1]`).

use super::parser::{Ctx, Parser};
use super::types::{RepairError, RepairKind};
use serde_json::{Map, Value};

impl Parser {
    /// `in_object`: the array is an object member's value, so a `}` closes
    /// both (`{"a": [1, 2}`).
    pub(super) fn parse_array(&mut self, in_object: bool) -> Result<Value, RepairError> {
        self.enter()?;
        let open = self.i;
        self.i += 1; // '['
        let mut items = Vec::new();
        self.ws();
        if self.cur() == Some(',') {
            self.fix(RepairKind::RemovedComma, self.i);
            self.i += 1;
        }
        let mut first = true;
        loop {
            self.ws();
            let Some(c) = self.cur() else {
                self.fix(RepairKind::ClosedContainer, open);
                break;
            };
            match c {
                ']' => {
                    self.i += 1;
                    break;
                }
                '}' if in_object => {
                    // The `]` is missing: close the array, leave the `}` to
                    // the object.
                    self.fix(RepairKind::MismatchedBracket, self.i);
                    break;
                }
                '}' => {
                    // A stray or mistyped closer: drop it.
                    self.fix(RepairKind::RemovedBracket, self.i);
                    self.i += 1;
                    continue;
                }
                ')' => {
                    self.fix(RepairKind::MismatchedBracket, self.i);
                    self.i += 1;
                    break;
                }
                _ => {}
            }
            if !first {
                if c == ',' {
                    let mut last_comma = self.i;
                    self.i += 1;
                    self.ws();
                    while self.cur() == Some(',') {
                        self.fix(RepairKind::RemovedComma, self.i);
                        last_comma = self.i;
                        self.i += 1;
                        self.ws();
                    }
                    if matches!(self.cur(), None | Some(']') | Some('}')) {
                        self.fix(RepairKind::RemovedComma, last_comma);
                        continue;
                    }
                } else {
                    self.fix(RepairKind::InsertedComma, self.i);
                }
            }
            first = false;
            self.skip_ellipsis();
            if matches!(self.cur(), None | Some(']') | Some('}') | Some(')')) {
                continue;
            }
            if self.cut_off_element() {
                continue;
            }
            let start = self.i;
            let before = self.fixes.len();
            match self.parse_value(Ctx::Array)? {
                Some(v) => {
                    // `["key": "value"]`: an object member inside an array.
                    if let Value::String(k) = &v {
                        if self.cur() == Some(':') {
                            self.i += 1;
                            self.fix(RepairKind::WrappedMemberInObject, start);
                            let obj = self.object_from_member(k.clone())?;
                            items.push(obj);
                            continue;
                        }
                    }
                    // An empty string cut off at the end of the text is dropped.
                    let truncated_empty = self.cur().is_none()
                        && v.as_str() == Some("")
                        && self.fixes[before..]
                            .iter()
                            .any(|f| f.kind == RepairKind::ClosedString);
                    if !truncated_empty {
                        items.push(v);
                    }
                }
                None => {
                    self.fix(RepairKind::SkippedJunk, start);
                    self.i = start + 1;
                }
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// An array element that was cut off before it held anything: a `{` or a
    /// `-` followed only by the array's `]` or the end of the text (`[{]`,
    /// `[1, -`). It carries no data, so it is dropped (like an empty string
    /// cut off at the end). A `-` before a comma is kept as `-0`.
    pub(super) fn cut_off_element(&mut self) -> bool {
        if !matches!(self.cur(), Some('{') | Some('-')) {
            return false;
        }
        let k = self.skip_ws_at(self.i + 1, true);
        if matches!(self.at(k), None | Some(']')) {
            self.fix(RepairKind::SkippedJunk, self.i);
            self.i = k;
            return true;
        }
        false
    }

    /// After `"key":` inside an array: read the rest of an object whose first
    /// key is `key`, up to `}` (consumed) or `]` (left).
    pub(super) fn object_from_member(&mut self, key: String) -> Result<Value, RepairError> {
        self.enter()?;
        let mut map = Map::new();
        let v = self.parse_value(Ctx::Object)?.unwrap_or(Value::Null);
        map.insert(key, v);
        loop {
            self.ws();
            match self.cur() {
                None | Some(']') => break,
                Some('}') => {
                    self.i += 1;
                    break;
                }
                Some(',') => {
                    // Another member only if `key:` follows.
                    let save = self.i;
                    self.i += 1;
                    self.ws();
                    let ks = self.i;
                    match self.parse_key()? {
                        Some(k) if self.cur() == Some(':') => {
                            self.i += 1;
                            let v = self.parse_value(Ctx::Object)?.unwrap_or(Value::Null);
                            map.insert(k.text, v);
                        }
                        _ => {
                            let _ = ks;
                            self.i = save;
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(Value::Object(map))
    }

    /// A Python tuple `(a, b)` becomes an array; `(x)` is just `x`.
    pub(super) fn parse_tuple(&mut self) -> Result<Value, RepairError> {
        self.enter()?;
        let open = self.i;
        self.i += 1;
        self.fix(RepairKind::ConvertedTuple, open);
        let mut items = Vec::new();
        let mut saw_comma = false;
        loop {
            self.ws();
            match self.cur() {
                None => {
                    self.fix(RepairKind::ClosedContainer, open);
                    break;
                }
                Some(')') => {
                    self.i += 1;
                    break;
                }
                Some(']') | Some('}') => break,
                Some(',') => {
                    saw_comma = true;
                    self.i += 1;
                }
                _ => {
                    let start = self.i;
                    match self.parse_value(Ctx::Tuple)? {
                        Some(v) => items.push(v),
                        None => {
                            self.fix(RepairKind::SkippedJunk, start);
                            self.i = start + 1;
                        }
                    }
                }
            }
        }
        self.depth -= 1;
        if items.len() == 1 && !saw_comma {
            return Ok(items.pop().unwrap_or(Value::Null));
        }
        Ok(Value::Array(items))
    }
}
